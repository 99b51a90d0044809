<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

/**
 * ThinkPHP's Http with route and middleware files already loaded at boot:
 * the adapter hands each request the preloaded objects instead of
 * including the files again.
 */
class PreloadedHttp extends \think\Http
{
    protected function loadMiddleware(): void
    {
    }

    protected function loadRoutes(): void
    {
    }

    /** Loads route and middleware files once, into the booting app. */
    public static function preload(\think\App $app): void
    {
        $http = new \think\Http($app);
        (function () {
            $this->loadMiddleware();
            $this->loadRoutes();
        })->call($http);
    }
}
