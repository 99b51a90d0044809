<?php
use think\facade\Route;

\app\common\Site::$routeLoads['admin'] = (\app\common\Site::$routeLoads['admin'] ?? 0) + 1;

Route::get('dash', function () {
    return 'admin dashboard for ' . session('user');
})->middleware(\app\admin\middleware\Guard::class);
Route::get('loads', fn () => json(['admin' => \app\common\Site::$routeLoads['admin']]));
