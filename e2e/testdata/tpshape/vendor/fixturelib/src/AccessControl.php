<?php
declare(strict_types=1);

namespace fixturelib;

use Closure;
use think\Request;

/** Sends anonymous users of protected pages to the login page. */
class AccessControl
{
    public function handle(Request $request, Closure $next)
    {
        $path = $request->pathinfo();
        if ((str_starts_with($path, 'users') || str_starts_with($path, 'admin')) && Auth::user() === null) {
            return redirect('/login?next=/' . $path);
        }
        return $next($request);
    }
}
