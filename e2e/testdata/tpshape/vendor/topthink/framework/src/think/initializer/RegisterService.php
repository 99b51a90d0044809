<?php
declare(strict_types=1);

namespace think\initializer;

use think\App;

/** Registers the services of Composer-installed libraries (vendor/services.php). */
class RegisterService
{
    public function init(App $app)
    {
        $file = $app->getRootPath() . 'vendor/services.php';
        foreach (is_file($file) ? include $file : [] as $service) {
            if (class_exists($service)) {
                $app->register($service);
            }
        }
    }
}
