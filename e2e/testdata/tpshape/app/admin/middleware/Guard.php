<?php
namespace app\admin\middleware;

use fixturelib\Auth;

/** Route middleware of the admin app: only the user "root" may pass. */
class Guard
{
    public function handle($request, \Closure $next)
    {
        if (Auth::user() !== 'root') {
            return json(['error' => 'admins only'], 403);
        }
        return $next($request);
    }
}
