<?php
declare(strict_types=1);

namespace think;

/**
 * think\App as a thinkgate HTTP worker runs it: ThinkPHP's own App
 * (ThinkgateBaseApp, see Thinkgate\ThinkPHP\Shim) that is never in console
 * mode, so services that add web middleware "when not in the console" add
 * it, from the constructor on. One App serves every request of the worker:
 * its state right after boot is kept and put back after each request, so a
 * static that holds the booted app always reaches the request being served.
 */
class App extends ThinkgateBaseApp
{
    public function runningInConsole(): bool
    {
        return false;
    }

    /** @internal the app's properties (container bindings, instances, paths, namespace). */
    public function thinkgateState(): array
    {
        return get_object_vars($this);
    }

    /** @internal puts back what thinkgateState() returned. */
    public function thinkgateRestore(array $state): void
    {
        foreach ($state as $name => $value) {
            $this->$name = $value;
        }
    }

    /** @internal starts the clock that debug traces and logs measure a request by. */
    public function thinkgateBegin(): void
    {
        $this->beginTime = microtime(true);
        $this->beginMem = memory_get_usage();
    }
}
