<?php
// thinkgate's PHP worker for plain apps: `php worker.php APP_FILE`, started by
// thinkgate with its protocol pipes on fd 3 and fd 4. APP_FILE runs once
// (boot) and returns the handler: function (Thinkgate\Request $r) { ... }.
declare(strict_types=1);

require __DIR__ . '/src/Protocol.php';
require __DIR__ . '/src/Request.php';
require __DIR__ . '/src/Response.php';
require __DIR__ . '/src/Worker.php';

$app = $argv[1] ?? '';
if ($app === '' || !is_file($app)) {
    fwrite(STDERR, "thinkgate worker: app file '$app' not found\n");
    exit(2);
}
$worker = Thinkgate\Worker::fromPipes(getenv('THINKGATE_DEBUG') === '1');
$handler = require $app;
if (!is_callable($handler)) {
    fwrite(STDERR, "thinkgate worker: $app must return a callable handler\n");
    exit(2);
}
$worker->serve($handler, ['adapter' => 'plain']);
