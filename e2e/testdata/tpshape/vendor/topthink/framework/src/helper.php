<?php
// ThinkPHP's helper functions, the few the fixture uses.
use think\Container;
use think\Response;

if (!function_exists('app')) {
    function app(string $name = '', array $args = [], bool $newInstance = false)
    {
        return Container::getInstance()->make($name ?: Container::class, $args, $newInstance);
    }
}
if (!function_exists('request')) {
    function request()
    {
        return app('request');
    }
}
if (!function_exists('session')) {
    function session($name = '', $value = '')
    {
        if (is_null($name)) {
            return app('session')->clear();
        }
        if ($value === '') {
            return app('session')->get($name);
        }
        if (is_null($value)) {
            return app('session')->delete($name);
        }
        return app('session')->set($name, $value);
    }
}
if (!function_exists('json')) {
    function json($data = [], $code = 200, $header = [])
    {
        return Response::create($data, 'json', $code)->header($header);
    }
}
if (!function_exists('redirect')) {
    function redirect(string $url = '', int $code = 302)
    {
        return Response::create($url, 'redirect', $code);
    }
}
if (!function_exists('config')) {
    function config($name = '', $value = null)
    {
        return app('config')->get($name, $value);
    }
}
if (!function_exists('lang')) {
    function lang(string $name)
    {
        return app('lang')->get($name);
    }
}
if (!function_exists('abort')) {
    function abort($code, string $message = '')
    {
        throw new \think\exception\HttpException($code, $message);
    }
}
