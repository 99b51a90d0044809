<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

/**
 * The ThinkPHP app thinkgate boots once per worker and clones per request.
 * It reports that it is not running in a console while serving (ThinkPHP
 * otherwise renders errors and writes logs console-style under php-cli) and
 * exposes what the per-request sandbox must reset.
 */
class SandboxApp extends \think\App
{
    public bool $serving = false;

    public function runningInConsole(): bool
    {
        return $this->serving ? false : parent::runningInConsole();
    }

    /** Forgets every resolved instance, breaking app <-> service cycles. */
    public function clearInstances(): void
    {
        $this->instances = [];
    }

    /** Restarts the request clock used by debug traces and logs. */
    public function resetBegin(): void
    {
        $this->beginTime = microtime(true);
        $this->beginMem = memory_get_usage();
    }

    /** Points every registered service at $app. */
    public function repointServices(\think\App $app): void
    {
        foreach ($this->services as $service) {
            (function () use ($app) {
                $this->app = $app;
            })->call($service);
        }
    }

    /** The class bound to an abstract name such as 'request'. */
    public function boundClass(string $abstract): ?string
    {
        $concrete = $this->bind[$abstract] ?? null;
        return is_string($concrete) ? $concrete : null;
    }
}
