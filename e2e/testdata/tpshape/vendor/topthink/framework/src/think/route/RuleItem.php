<?php
declare(strict_types=1);

namespace think\route;

class RuleItem
{
    protected $middleware = [];

    public function __construct(protected string $method, protected string $rule, protected $route)
    {
    }

    public function middleware($middleware)
    {
        foreach ((array)$middleware as $m) {
            $this->middleware[] = $m;
        }
        return $this;
    }

    public function getMiddleware(): array
    {
        return $this->middleware;
    }

    public function getRoute()
    {
        return $this->route;
    }

    /** The route's variables when it matches, else null. */
    public function match(string $method, string $url): ?array
    {
        if ($this->method !== '*' && strcasecmp($this->method, $method) !== 0) {
            return null;
        }
        $pattern = preg_replace('#:(\w+)#', '(?P<$1>[^/]+)', $this->rule);
        if (!preg_match('#^' . $pattern . '$#', $url, $m)) {
            return null;
        }
        return array_filter($m, 'is_string', ARRAY_FILTER_USE_KEY);
    }
}
