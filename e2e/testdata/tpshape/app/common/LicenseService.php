<?php
namespace app\common;

use think\Service;

/** A boot that can fail: FIXTURE_BOOT_FAIL=throw throws, =fatal dies of a fatal error, =exit exits. */
class LicenseService extends Service
{
    public function boot()
    {
        switch (getenv('FIXTURE_BOOT_FAIL')) {
            case 'throw':
                throw new \RuntimeException('license server unreachable');
            case 'fatal':
                ini_set('memory_limit', '8M');
                $this->app->instance('hog', str_repeat('x', 64 << 20));
                break;
            case 'exit':
                exit(0);
        }
    }
}
