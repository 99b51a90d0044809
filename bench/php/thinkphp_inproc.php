<?php
// The ThinkPHP adapter's own cost per request, in one process with no HTTP and
// no pipes: php -d opcache.enable_cli=1 bench/php/thinkphp_inproc.php /path/to/tp-project [path [pause_us]]
// With pause_us, the process sleeps that long between requests, as a worker
// blocks on its pipe between requests: on a virtual machine, a process that
// blocks pays for waking up (cold caches, the hypervisor) in CPU per request.
// Prints the wall time and the process's CPU time per request.
declare(strict_types=1);
require __DIR__ . '/../../php/autoload.php';
$root = rtrim($argv[1] ?? '', '/');
$path = $argv[2] ?? '/hello/world';
$pause = (int)($argv[3] ?? 0);
$adapter = Thinkgate\ThinkPHP\Adapter::boot($root, "$root/public/index.php");
$run = function () use ($adapter, $path) {
    $r = new Thinkgate\Request(['method' => 'GET', 'uri' => $path, 'path' => $path, 'query' => '', 'headers' => ['Host' => ['localhost']]], '');
    $r->populateGlobals();
    $res = $adapter($r);
    Thinkgate\Request::clearGlobals();
    return $res;
};
$cpu = static function (): float {
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1e6 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1e6 + $u['ru_stime.tv_usec'];
};
for ($i = 0; $i < 200; $i++) {
    $run(); // warm up
}
$n = $pause > 0 ? 3000 : 5000;
$c = $cpu();
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $res = $run();
    if ($pause > 0) {
        usleep($pause);
    }
}
printf("ThinkPHP adapter in-process: %.1f us per request (status %d), %.1f us CPU per request, pause %d us\n",
    (hrtime(true) - $t) / 1e3 / $n, $res->status, ($cpu() - $c) / $n, $pause);
