<?php
// The floor: the same app booted once and called N times in one process,
// with no HTTP and no pipes. Prints requests per second.
declare(strict_types=1);
require __DIR__ . '/../../php/autoload.php';
$handler = require __DIR__ . '/../../php/tests/fixture_app.php';
$n = (int)($argv[1] ?? 100000);
[$path, $query] = array_pad(explode('?', $argv[2] ?? '/json', 2), 2, '');
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $req = new Thinkgate\Request(['method' => 'GET', 'uri' => $path, 'path' => $path, 'query' => $query, 'headers' => []], '');
    $req->populateGlobals();
    $res = $handler($req);
    $body = is_array($res) ? json_encode($res) : (string)($res instanceof Thinkgate\Response ? $res->body : $res);
    Thinkgate\Request::clearGlobals();
}
$s = (hrtime(true) - $t) / 1e9;
printf("bare loop: %d requests in %.3f s = %.0f req/s, %.1f us each\n", $n, $s, $n / $s, $s / $n * 1e6);
