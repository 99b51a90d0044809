<?php
declare(strict_types=1);

namespace think;

class Event
{
    protected $listener = [];
    protected $bind = [
        'AppInit' => event\AppInit::class,
        'HttpRun' => event\HttpRun::class,
        'HttpEnd' => event\HttpEnd::class,
        'RouteLoaded' => event\RouteLoaded::class,
    ];

    public function __construct(protected App $app)
    {
    }

    public function listenEvents(array $events)
    {
        foreach ($events as $event => $listeners) {
            foreach ($listeners as $listener) {
                $this->listen($event, $listener);
            }
        }
        return $this;
    }

    public function listen(string $event, $listener, bool $first = false)
    {
        $event = $this->bind[$event] ?? $event;
        if ($first && isset($this->listener[$event])) {
            array_unshift($this->listener[$event], $listener);
        } else {
            $this->listener[$event][] = $listener;
        }
        return $this;
    }

    public function trigger($event, $params = null, bool $once = false)
    {
        if (is_object($event)) {
            $params = $event;
            $event = $event::class;
        }
        $event = $this->bind[$event] ?? $event;
        $result = [];
        foreach ($this->listener[$event] ?? [] as $key => $listener) {
            $result[$key] = $this->dispatch($listener, $params);
            if (false === $result[$key] || (!is_null($result[$key]) && $once)) {
                break;
            }
        }
        return $once ? end($result) : $result;
    }

    protected function dispatch($event, $params = null)
    {
        if (!is_string($event)) {
            $call = $event;
        } else {
            $call = [$this->app->make($event), 'handle'];
        }
        return $this->app->invoke($call, [$params]);
    }
}
