<?php
namespace app\middleware;

use Closure;
use think\App;

/**
 * Multi-app routing as think-multi-app does it: the first path segment names
 * an app under app/, whose route folder, app middleware and root are set for
 * this request.
 */
class PickApp
{
    public function __construct(protected App $app)
    {
    }

    public function handle($request, Closure $next)
    {
        $path = $request->pathinfo();
        $name = strstr($path . '/', '/', true);
        $dir = $this->app->getBasePath() . $name . DIRECTORY_SEPARATOR;
        if ($name === '' || !is_dir($dir . 'route')) {
            return $next($request);
        }
        $this->app->http->name($name);
        $this->app->http->setRoutePath($dir . 'route' . DIRECTORY_SEPARATOR);
        $this->app->setNamespace('app\\' . $name);
        $request->setRoot('/' . $name);
        $request->setPathinfo(ltrim(substr($path, strlen($name)), '/'));
        if (is_file($dir . 'middleware.php')) {
            $this->app->middleware->import(include $dir . 'middleware.php', 'app');
        }
        return $this->app->middleware->pipeline('app')->send($request)->then(fn ($request) => $next($request));
    }
}
