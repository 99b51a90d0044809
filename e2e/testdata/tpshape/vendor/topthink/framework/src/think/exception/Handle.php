<?php
declare(strict_types=1);

namespace think\exception;

use think\App;
use think\Response;

class Handle
{
    public function __construct(protected App $app)
    {
    }

    public function report(\Throwable $e): void
    {
        $this->app->log->record($e->getMessage(), 'error');
    }

    public function render($request, \Throwable $e): Response
    {
        $code = $e instanceof HttpException ? $e->getStatusCode() : 500;
        $msg = $e instanceof HttpException || $this->app->isDebug() ? $e->getMessage() : 'Page error! Please try again later.';
        return Response::create('<h1>' . htmlspecialchars($msg) . '</h1>', 'html', $code);
    }
}
