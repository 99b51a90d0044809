<?php
namespace app\common;

use think\Service;

/** Adds the multi-app middleware on HttpRun, as think-multi-app's service does. */
class MultiAppService extends Service
{
    public function boot()
    {
        $this->app->event->listen('HttpRun', function () {
            $this->app->middleware->add(\app\middleware\PickApp::class);
        });
    }
}
