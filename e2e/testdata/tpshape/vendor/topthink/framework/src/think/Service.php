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

    /** Adds console commands (name => class), as ThinkPHP's Service does. */
    public function commands($commands)
    {
        $commands = is_array($commands) ? $commands : func_get_args();
        Console::starting(function (Console $console) use ($commands) {
            $console->addCommands($commands);
        });
    }

    public function register()
    {
    }
}
