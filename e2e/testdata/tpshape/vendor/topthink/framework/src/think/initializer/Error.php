<?php
declare(strict_types=1);

namespace think\initializer;

use think\App;

/**
 * ThinkPHP's error initializer: warnings become ErrorException, and an
 * uncaught exception is handled by the app (outside debug mode it shows no
 * detail), as ThinkPHP's own does.
 */
class Error
{
    protected $app;

    public function init(App $app)
    {
        $this->app = $app;
        error_reporting(E_ALL);
        set_error_handler([$this, 'appError']);
        set_exception_handler([$this, 'appException']);
    }

    public function appException(\Throwable $e): void
    {
        echo $this->app->isDebug() ? (string)$e : 'Page error! Please try again later.';
    }

    public function appError(int $errno, string $errstr, string $errfile = '', int $errline = 0): bool
    {
        if (error_reporting() & $errno) {
            throw new \ErrorException($errstr, 0, $errno, $errfile, $errline);
        }
        return true;
    }
}
