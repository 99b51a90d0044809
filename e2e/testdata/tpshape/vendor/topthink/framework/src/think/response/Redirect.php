<?php
declare(strict_types=1);

namespace think\response;

use think\Cookie;
use think\Response;

class Redirect extends Response
{
    public function __construct(Cookie $cookie, $data = '', int $code = 302)
    {
        parent::__construct($cookie, $data, $code);
        $this->header['Location'] = $data;
    }

    protected function output($data)
    {
        return '';
    }
}
