<?php
namespace app\common;

use think\Service;

/** Decides at registration from the request (an api-token header): a boot-time decision. */
class ApiModeService extends Service
{
    public function register()
    {
        $mode = $this->app->request->header('api-token') ? 'token' : 'session';
        $this->app->instance('api_mode', new \ArrayObject(['mode' => $mode]));
    }
}
