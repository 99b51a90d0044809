<?php
namespace app\common;

/** Set by public/index.php before $http->run(). */
class Site
{
    public static string $brand = '(index.php did not run)';
    public static array $routeLoads = [];
}
