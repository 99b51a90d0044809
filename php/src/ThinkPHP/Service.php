<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

/**
 * Registers `php think thinkgate` when the SDK is installed with Composer:
 * ThinkPHP's service discovery (vendor/services.php, written by
 * `php think service:discover` after every composer install) lists it from
 * composer.json's extra.think.services.
 */
class Service extends \think\Service
{
    public function register(): void
    {
        $this->commands(['thinkgate' => Command::class]);
    }
}
