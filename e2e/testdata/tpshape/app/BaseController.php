<?php
namespace app;

use think\App;

/** As the ThinkPHP skeleton's: controllers get the app and the request. */
abstract class BaseController
{
    protected $request;

    public function __construct(protected App $app)
    {
        $this->request = $this->app->request;
    }
}
