<?php
declare(strict_types=1);

namespace think\console;

/** The console's output. */
class Output
{
    public function writeln(string $line): void
    {
        echo $line, "\n";
    }
}
