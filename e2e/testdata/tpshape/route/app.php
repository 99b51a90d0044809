<?php
use think\facade\Route;

\app\common\Site::$routeLoads['root'] = (\app\common\Site::$routeLoads['root'] ?? 0) + 1;

Route::get('hello/:name', 'index/hello');
Route::get('login', 'index/loginForm');
Route::post('login', 'index/login');
Route::get('logout', 'index/logout');
Route::get('whoami', 'index/whoami');
Route::get('users', 'index/users');
Route::get('site', 'index/site');
Route::get('apimode', 'index/apimode');
Route::get('console', 'index/console');
Route::get('loads', fn () => json(['root' => \app\common\Site::$routeLoads['root']]));
Route::rule('method', 'index/method');
Route::get('cookies', 'index/cookies');
Route::get('server', 'index/server');
Route::get('lang', fn () => lang('welcome'));
Route::get('secret', fn () => 'the secret of ' . session('user'));
// 100 items as JSON (about 7 KB), the benchmarks' action (scripts/bench-php-ratios).
Route::get('items', function () {
    $items = [];
    for ($i = 1; $i <= 100; $i++) {
        $items[] = ['id' => $i, 'name' => "item $i", 'price' => $i * 1.5, 'tags' => ['a', 'b'], 'stock' => $i % 7];
    }
    return json(['items' => $items]);
});
