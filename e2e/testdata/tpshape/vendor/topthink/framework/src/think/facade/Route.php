<?php
declare(strict_types=1);

namespace think\facade;

use think\Facade;

class Route extends Facade
{
    protected static function getFacadeClass()
    {
        return 'route';
    }
}
