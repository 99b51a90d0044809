<?php
declare(strict_types=1);

namespace think\middleware;

use Closure;
use think\App;
use think\Request;
use think\Response;
use think\Session;

/** ThinkPHP's session middleware: the id from a cookie, saved in end(). */
class SessionInit
{
    public function __construct(protected App $app, protected Session $session)
    {
    }

    public function handle(Request $request, Closure $next)
    {
        $name = $this->session->getName();
        $this->session->setId($request->cookie($name));
        $this->session->init();
        $request->withSession($this->session);
        $response = $next($request);
        $response->setSession($this->session);
        $this->app->cookie->set($name, $this->session->getId(), ['httponly' => true]);
        return $response;
    }

    public function end(Response $response): void
    {
        $this->session->save();
    }
}
