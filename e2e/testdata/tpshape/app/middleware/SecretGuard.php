<?php
namespace app\middleware;

use fixturelib\Auth;

/** Route middleware declared in config/route.php: secret/ is for logged-in users. */
class SecretGuard
{
    public function handle($request, \Closure $next)
    {
        if (str_starts_with($request->pathinfo(), 'secret') && Auth::user() === null) {
            return json(['error' => 'login first'], 401);
        }
        return $next($request);
    }
}
