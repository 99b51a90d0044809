<?php
declare(strict_types=1);

namespace think\response;

use think\Response;

class Json extends Response
{
    protected $contentType = 'application/json';

    protected function output($data)
    {
        return json_encode($data, JSON_UNESCAPED_UNICODE);
    }
}
