<?php
declare(strict_types=1);

namespace think;

/** ThinkPHP's log: records kept in memory and written by save() at the end of the request. */
class Log
{
    protected $log = [];

    public function __construct(protected App $app)
    {
    }

    public function record($msg, string $type = 'info')
    {
        $this->log[] = "[$type] " . (is_string($msg) ? $msg : var_export($msg, true));
        return $this;
    }

    public function getLog(): array
    {
        return $this->log;
    }

    public function save(): bool
    {
        if ($this->log) {
            $file = $this->app->getRuntimePath() . 'log/app.log';
            @mkdir(dirname($file), 0755, true);
            // Each line names the request it came from, as ThinkPHP's file driver does.
            $url = $this->app->request->url();
            $lines = array_map(fn ($l) => "$url $l", $this->log);
            file_put_contents($file, implode("\n", $lines) . "\n", FILE_APPEND | LOCK_EX);
            $this->log = [];
        }
        return true;
    }
}
