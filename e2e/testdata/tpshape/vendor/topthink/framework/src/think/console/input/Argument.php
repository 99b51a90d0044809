<?php
declare(strict_types=1);

namespace think\console\input;

/** A command's positional argument. */
class Argument
{
    public const REQUIRED = 1;
    public const OPTIONAL = 2;
    public const IS_ARRAY = 4;

    public function __construct(public string $name, public ?int $mode = null, public string $description = '', public $default = null)
    {
    }
}
