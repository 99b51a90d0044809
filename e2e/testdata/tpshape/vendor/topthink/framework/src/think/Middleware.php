<?php
declare(strict_types=1);

namespace think;

use Closure;
use LogicException;

/** ThinkPHP's middleware queues (global, app, route); instances come from the container. */
class Middleware
{
    protected $queue = [];

    public function __construct(protected App $app)
    {
    }

    public function import(array $middlewares = [], string $type = 'global'): void
    {
        foreach ($middlewares as $middleware) {
            $this->add($middleware, $type);
        }
    }

    public function add($middleware, string $type = 'global'): void
    {
        $middleware = $this->buildMiddleware($middleware, $type);
        if (!empty($middleware)) {
            $this->queue[$type][] = $middleware;
            $this->queue[$type] = array_unique($this->queue[$type], SORT_REGULAR);
        }
    }

    public function all(string $type = 'global'): array
    {
        return $this->queue[$type] ?? [];
    }

    public function pipeline(string $type = 'global')
    {
        return (new Pipeline())->through(array_map(function ($middleware) {
            return function ($request, $next) use ($middleware) {
                [$call, $params] = $middleware;
                if (is_array($call) && is_string($call[0])) {
                    $call = [$this->app->make($call[0]), $call[1]];
                }
                $response = call_user_func($call, $request, $next, ...$params);
                if (!$response instanceof Response) {
                    throw new LogicException('The middleware must return Response instance');
                }
                return $response;
            };
        }, $this->queue[$type] ?? []));
    }

    public function end(Response $response)
    {
        foreach ($this->queue as $queue) {
            foreach ($queue as $middleware) {
                [$call] = $middleware;
                if (is_array($call) && is_string($call[0])) {
                    $instance = $this->app->make($call[0]);
                    if (method_exists($instance, 'end')) {
                        $instance->end($response);
                    }
                }
            }
        }
    }

    protected function buildMiddleware($middleware, string $type): array
    {
        if (is_array($middleware)) {
            [$middleware, $params] = $middleware;
        }
        if ($middleware instanceof Closure) {
            return [$middleware, $params ?? []];
        }
        return [[$middleware, 'handle'], $params ?? []];
    }
}
