<?php
namespace app\common;

use think\Request;

/** A Route subclass bound by public/index.php: every routed response says so. */
class ShopRoute extends \think\Route
{
    public function dispatch(Request $request, $withRoute = true)
    {
        return parent::dispatch($request, $withRoute)->header(['X-Router' => 'shop']);
    }
}
