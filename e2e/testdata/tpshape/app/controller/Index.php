<?php
namespace app\controller;

use app\common\Site;
use fixturelib\Auth;

class Index
{
    public function index()
    {
        return 'tpshape home';
    }

    public function hello(string $name)
    {
        return 'hello ' . $name;
    }

    public function loginForm()
    {
        // The form posts back to the URL it was served at, built through the static app.
        return '<form method="post" action="' . htmlspecialchars(Auth::currentUrl()) . '"><input name="user"></form>';
    }

    public function login()
    {
        session('user', (string)request()->post('user'));
        return redirect((string)request()->get('next', '/whoami'));
    }

    public function logout()
    {
        session('user', null);
        return redirect('/login');
    }

    public function whoami()
    {
        return json(['session' => session('user'), 'auth' => Auth::user(), 'url' => Auth::currentUrl()]);
    }

    public function users()
    {
        return json([['name' => 'root', 'password' => password_hash('x', PASSWORD_DEFAULT) !== '' ? '$2y$10$secret-hash' : '']]);
    }

    public function site()
    {
        return Site::$brand . ' via ' . get_class(app('route'));
    }

    public function apimode()
    {
        return app('api_mode')['mode'];
    }

    public function console()
    {
        return app()->runningInConsole() ? 'console' : 'web';
    }

    public function method()
    {
        return request()->method();
    }

    public function cookies()
    {
        $cookie = app('cookie');
        $cookie->set('plain', 'a b+c/d;e', ['expire' => 3600, 'httponly' => true, 'samesite' => 'Lax']);
        $cookie->set('scoped', 'x', ['domain' => 'example.com', 'secure' => true]);
        $cookie->delete('gone');
        return json(['cookie' => $_COOKIE, 'request' => request()->cookie()]);
    }

    public function server()
    {
        $keys = ['HTTP_AUTHORIZATION', 'HTTP_X_FORWARDED_HOST', 'HTTP_REFERER', 'PATH_INFO', 'QUERY_STRING', 'PHP_SELF', 'SCRIPT_NAME'];
        $globals = array_intersect_key($_SERVER, array_flip($keys));
        $request = array_intersect_key(request()->server(), array_flip($keys));
        ksort($globals);
        ksort($request);
        return json(['globals' => $globals, 'request' => $request]);
    }
}
