<?php
declare(strict_types=1);

namespace think;

use Closure;
use think\event\RouteLoaded;

/** ThinkPHP's service base: register() at initialize, boot() after every register(). */
abstract class Service
{
    public function __construct(protected App $app)
    {
    }

    protected function registerRoutes(Closure $closure)
    {
        $this->app->event->listen(RouteLoaded::class, $closure);
    }

    public function commands($commands)
    {
    }

    public function register()
    {
    }
}
