<?php
// thinkgate's PHP worker, started by thinkgate with its protocol pipes on
// fd 3 and fd 4:
//   php worker.php APP_FILE              a plain app: APP_FILE runs once (boot) and returns
//                                        the handler, function (Thinkgate\Request $r) { ... },
//                                        or ['http' => that, 'ws' => function (Thinkgate\WsEvent $e) { ... }]
//   php worker.php --thinkphp APP_ROOT   a ThinkPHP 6/8 app, booted once through its public/index.php
//                                        (THINKGATE_TP_INDEX), put back as booted after each request;
//                                        WebSocket events through its router (ThinkPHP\Events)
declare(strict_types=1);

require __DIR__ . '/autoload.php';

$worker = Thinkgate\Worker::fromPipes(getenv('THINKGATE_DEBUG') === '1');
if (($argv[1] ?? '') === '--thinkphp') {
    $root = rtrim($argv[2] ?? '', '/');
    if (!is_file("$root/vendor/autoload.php")) {
        fwrite(STDERR, "thinkgate worker: $root/vendor/autoload.php not found; run composer install\n");
        exit(2);
    }
    // Boot errors are written to stderr here, whatever the app does to
    // display_errors (ThinkPHP turns it off outside debug mode).
    $booted = false;
    register_shutdown_function(static function () use (&$booted, $root) {
        $err = error_get_last();
        if (!$booted && $err !== null && in_array($err['type'], [E_ERROR, E_PARSE, E_CORE_ERROR, E_COMPILE_ERROR, E_USER_ERROR], true)) {
            fwrite(STDERR, "thinkgate worker: $root failed to boot: PHP fatal error: {$err['message']} at {$err['file']}:{$err['line']}\n");
        } elseif (!$booted) {
            fwrite(STDERR, "thinkgate worker: $root ended the process while booting (exit() or die() in its boot code?)\n");
        }
    });
    try {
        $adapter = Thinkgate\ThinkPHP\Adapter::boot($root, (string)getenv('THINKGATE_TP_INDEX'), getenv('THINKGATE_TP_PRELOAD') !== '0');
    } catch (\Throwable $e) {
        $booted = true; // reported here
        // The trace first, PHP's message last: the start failure quotes the last line.
        fwrite(STDERR, $e->getTraceAsString() . "\n");
        fwrite(STDERR, "thinkgate worker: $root failed to boot: " . get_class($e) . ': ' . $e->getMessage()
            . ' at ' . $e->getFile() . ':' . $e->getLine() . "\n");
        exit(1);
    }
    $booted = true;
    // events.on_*: controller paths for WebSocket events and the worker's life.
    if (($start = getenv('THINKGATE_ON_WORKER_START')) !== false && $start !== '') {
        Thinkgate\ThinkPHP\Events::hook($adapter, $start);
    }
    $ws = Thinkgate\ThinkPHP\Events::handler($adapter, [
        'connect' => (string)getenv('THINKGATE_ON_CONNECT'), 'message' => (string)getenv('THINKGATE_ON_MESSAGE'),
        'close' => (string)getenv('THINKGATE_ON_CLOSE'),
    ]);
    $worker->serve($adapter, ['adapter' => 'thinkphp', 'framework' => \think\App::VERSION], $ws);
    if (($stop = getenv('THINKGATE_ON_WORKER_STOP')) !== false && $stop !== '') {
        Thinkgate\ThinkPHP\Events::hook($adapter, $stop);
    }
    exit(0);
}
$app = $argv[1] ?? '';
if ($app === '' || !is_file($app)) {
    fwrite(STDERR, "thinkgate worker: app file '$app' not found\n");
    exit(2);
}
$returned = require $app;
$handler = is_array($returned) ? ($returned['http'] ?? null) : $returned;
$ws = is_array($returned) ? ($returned['ws'] ?? null) : null;
if ($handler === null && $ws !== null) {
    $handler = static fn() => new Thinkgate\Response('this app serves WebSocket events only', 404);
}
if (!is_callable($handler) || ($ws !== null && !is_callable($ws))) {
    fwrite(STDERR, "thinkgate worker: $app must return a callable handler, or ['http' => callable, 'ws' => callable]\n");
    exit(2);
}
$worker->serve($handler, ['adapter' => 'plain', 'ws' => $ws !== null], $ws);
