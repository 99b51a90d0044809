<?php
// The ThinkPHP adapter's own cost per request, in one process with no HTTP and
// no pipes: php -d opcache.enable_cli=1 bench/php/thinkphp_inproc.php /path/to/tp-project [path]
declare(strict_types=1);
require __DIR__ . '/../../php/autoload.php';
$root = rtrim($argv[1] ?? '', '/');
$path = $argv[2] ?? '/hello/world';
$adapter = Thinkgate\ThinkPHP\Adapter::boot($root, "$root/public/index.php");
$run = function () use ($adapter, $path) {
    $r = new Thinkgate\Request(['method' => 'GET', 'uri' => $path, 'path' => $path, 'query' => '', 'headers' => ['Host' => ['localhost']]], '');
    $r->populateGlobals();
    $res = $adapter($r);
    Thinkgate\Request::clearGlobals();
    return $res;
};
for ($i = 0; $i < 200; $i++) {
    $run(); // warm up
}
$n = 5000;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $res = $run();
}
printf("ThinkPHP adapter in-process: %.1f us per request (status %d)\n", (hrtime(true) - $t) / 1e3 / $n, $res->status);
