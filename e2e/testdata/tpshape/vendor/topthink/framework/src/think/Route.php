<?php
declare(strict_types=1);

namespace think;

use Closure;
use think\exception\HttpException;
use think\route\RuleItem;

/** ThinkPHP's router, reduced: rules with :params and route middleware, else controller/action URLs. */
class Route
{
    protected $rules = [];
    protected $request;
    protected $config = [];

    public function __construct(protected App $app)
    {
        $this->config = $this->app->config->get('route', []);
        $this->init();
    }

    /** As ThinkPHP's: the route config's middleware joins the route queue. */
    protected function init()
    {
        if (!empty($this->config['middleware'])) {
            $this->app->middleware->import($this->config['middleware'], 'route');
        }
    }

    public function rule(string $rule, $route = null, string $method = '*'): RuleItem
    {
        $item = new RuleItem($method, trim($rule, '/'), $route);
        $this->rules[] = $item;
        return $item;
    }

    public function get(string $rule, $route): RuleItem
    {
        return $this->rule($rule, $route, 'GET');
    }

    public function post(string $rule, $route): RuleItem
    {
        return $this->rule($rule, $route, 'POST');
    }

    public function any(string $rule, $route): RuleItem
    {
        return $this->rule($rule, $route, '*');
    }

    public function count(): int
    {
        return count($this->rules);
    }

    public function dispatch(Request $request, $withRoute = true)
    {
        $this->request = $request;
        $url = trim($request->pathinfo(), '/');
        $item = null;
        $vars = [];
        if ($withRoute) {
            if ($withRoute instanceof Closure) {
                $withRoute();
            }
            foreach ($this->rules as $rule) {
                if (($vars = $rule->match($request->method(), $url)) !== null) {
                    $item = $rule;
                    break;
                }
            }
        }
        if ($item === null && !empty($this->config['url_route_must'])) {
            throw new HttpException(404, 'Route Not Found');
        }
        if ($item !== null) {
            $this->app->middleware->import($item->getMiddleware(), 'route');
            $route = $item->getRoute();
        } else {
            $route = $url === '' ? 'index/index' : $url;
        }
        return $this->app->middleware->pipeline('route')->send($request)->then(function () use ($route, $vars) {
            return $this->exec($route, $vars ?? []);
        });
    }

    protected function exec($route, array $vars): Response
    {
        if ($route instanceof Closure) {
            $data = $this->app->invokeFunction($route, $vars);
        } else {
            $parts = explode('/', trim((string)$route, '/'));
            $action = count($parts) > 1 ? array_pop($parts) : 'index';
            $class = $this->app->parseClass('controller', implode('/', $parts));
            if (!class_exists($class) || !method_exists($class, $action)) {
                throw new HttpException(404, 'controller not exists:' . $class);
            }
            $data = $this->app->invokeMethod([$this->app->make($class, [], true), $action], $vars);
        }
        if ($data instanceof Response) {
            return $data;
        }
        return is_array($data) ? Response::create($data, 'json') : Response::create((string)$data);
    }
}
