<?php
namespace app;

class Request extends \think\Request
{
    public function isFixture(): bool
    {
        return true;
    }
}
