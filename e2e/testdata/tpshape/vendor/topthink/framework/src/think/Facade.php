<?php
declare(strict_types=1);

namespace think;

class Facade
{
    protected static function getFacadeClass()
    {
    }

    protected static function createFacade()
    {
        return Container::getInstance()->make(static::getFacadeClass());
    }

    public static function __callStatic($method, $params)
    {
        return call_user_func_array([static::createFacade(), $method], $params);
    }
}
