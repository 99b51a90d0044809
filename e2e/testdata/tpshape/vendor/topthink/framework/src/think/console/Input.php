<?php
declare(strict_types=1);

namespace think\console;

use think\console\input\Argument;
use think\console\input\Option;

/** The command line after the command's name: arguments by position, --long and -s options. */
class Input
{
    private array $arguments = [];
    private array $options = [];

    public function __construct(private array $tokens)
    {
    }

    /** @param Argument[] $arguments @param Option[] $options */
    public function bind(array $arguments, array $options): void
    {
        $positional = [];
        foreach ($this->tokens as $t) {
            if (str_starts_with($t, '--')) {
                [$name, $value] = array_pad(explode('=', substr($t, 2), 2), 2, true);
                $this->options[$name] = $value;
            } elseif (str_starts_with($t, '-') && strlen($t) > 1) {
                foreach (str_split(substr($t, 1)) as $short) {
                    foreach ($options as $o) {
                        if ($o->shortcut === $short) {
                            $this->options[$o->name] = true;
                        }
                    }
                }
            } else {
                $positional[] = $t;
            }
        }
        foreach ($arguments as $i => $a) {
            $this->arguments[$a->name] = $positional[$i] ?? $a->default;
        }
        foreach ($options as $o) {
            $this->options[$o->name] ??= $o->mode === Option::VALUE_NONE ? false : $o->default;
        }
    }

    public function getArgument(string $name)
    {
        return $this->arguments[$name] ?? null;
    }

    public function getOption(string $name)
    {
        return $this->options[$name] ?? null;
    }
}
