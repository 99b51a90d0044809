<?php
declare(strict_types=1);

namespace think\response;

use think\Response;

class Html extends Response
{
}
