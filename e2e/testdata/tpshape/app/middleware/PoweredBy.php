<?php
namespace app\middleware;

class PoweredBy
{
    public function handle(\app\Request $request, \Closure $next)
    {
        return $next($request)->header(['X-Powered-By' => 'tpshape']);
    }
}
