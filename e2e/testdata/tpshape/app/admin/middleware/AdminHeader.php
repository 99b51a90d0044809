<?php
namespace app\admin\middleware;

class AdminHeader
{
    public function handle($request, \Closure $next)
    {
        return $next($request)->header(['X-App' => 'admin']);
    }
}
