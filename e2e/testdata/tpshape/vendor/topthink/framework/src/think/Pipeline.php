<?php
declare(strict_types=1);

namespace think;

use Closure;

class Pipeline
{
    protected $passable;
    protected $pipes = [];

    public function send($passable)
    {
        $this->passable = $passable;
        return $this;
    }

    public function through($pipes)
    {
        $this->pipes = is_array($pipes) ? $pipes : func_get_args();
        return $this;
    }

    public function then(Closure $destination)
    {
        $pipeline = array_reduce(
            array_reverse($this->pipes),
            fn ($stack, $pipe) => fn ($passable) => $pipe($passable, $stack),
            fn ($passable) => $destination($passable)
        );
        return $pipeline($this->passable);
    }
}
