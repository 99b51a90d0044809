<?php
declare(strict_types=1);

namespace think\console\input;

/** A command's option: --name, or -s with its shortcut. */
class Option
{
    public const VALUE_NONE = 1;
    public const VALUE_REQUIRED = 2;
    public const VALUE_OPTIONAL = 4;
    public const VALUE_IS_ARRAY = 8;

    public function __construct(public string $name, public ?string $shortcut = null, public ?int $mode = null, public string $description = '', public $default = null)
    {
    }
}
