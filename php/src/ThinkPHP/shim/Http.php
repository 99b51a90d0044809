<?php
declare(strict_types=1);

namespace think;

use Thinkgate\ThinkPHP\Adapter;

/**
 * think\Http as a thinkgate worker runs it (ThinkPHP's own Http is
 * ThinkgateBaseHttp, see Thinkgate\ThinkPHP\Shim):
 * - while public/index.php runs at boot, run() boots the app and hands this
 *   Http to thinkgate instead of serving the request php-cli does not have;
 * - app/middleware.php is loaded once at boot, and the route files of each
 *   route folder (root route/, or app/<name>/route/ chosen per request by
 *   multi-app middleware) once per worker, unless php.preload is off.
 */
class Http extends ThinkgateBaseHttp
{
    public function run(?Request $request = null): Response
    {
        $adapter = Adapter::current();
        if ($adapter !== null && $adapter->capturing()) {
            $this->initialize();
            return $adapter->capture($this);
        }
        return parent::run($request);
    }

    public function end(Response $response): void
    {
        $adapter = Adapter::current();
        if ($adapter !== null && $adapter->capturing()) {
            return;
        }
        parent::end($response);
    }

    protected function loadMiddleware(): void
    {
        $adapter = Adapter::current();
        if ($adapter !== null && $adapter->preloads() && $adapter->booted()) {
            return; // loaded at boot (Adapter::boot)
        }
        parent::loadMiddleware();
    }

    /** @internal loads app/middleware.php into the booting app. */
    public function thinkgateLoadMiddleware(): void
    {
        parent::loadMiddleware();
    }

    protected function dispatchToRoute($request)
    {
        $adapter = Adapter::current();
        if ($adapter === null || !$adapter->preloads() || !$this->app->config->get('app.with_route', true)) {
            return parent::dispatchToRoute($request);
        }
        $route = $adapter->route($this->getRoutePath(), function () {
            $this->loadRoutes();
        });
        return $route->dispatch($request, static function () {
        });
    }
}
