<?php
declare(strict_types=1);

namespace think\initializer;

use think\App;

class BootService
{
    public function init(App $app)
    {
        $app->boot();
    }
}
