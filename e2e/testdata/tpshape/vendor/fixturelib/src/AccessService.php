<?php
declare(strict_types=1);

namespace fixturelib;

use think\middleware\SessionInit;
use think\Service;

/**
 * A Composer-installed library's service, written as admin panels write
 * theirs: web middleware only when not in the console (a console command
 * needs no session, asked of the app or of the request), its language
 * strings loaded at registration, and the booted app kept in a static.
 */
class AccessService extends Service
{
    public function register()
    {
        if (!$this->app->runningInConsole()) {
            $this->app->middleware->add(SessionInit::class);
        }
        if (!$this->app->request->isCli()) {
            $this->app->middleware->add(AccessControl::class);
        }
        $this->app->lang->load(__DIR__ . '/lang/zh-cn.php', 'zh-cn');
    }

    public function boot()
    {
        Auth::$app = $this->app;
    }
}
