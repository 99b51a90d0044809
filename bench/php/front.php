<?php
// Front controller for php -S and php-fpm: boots the fixture app on every
// request, as `php think run` and php-fpm do with ThinkPHP, and answers.
declare(strict_types=1);
require __DIR__ . '/../../php/autoload.php';
$handler = require getenv('BENCH_APP') ?: __DIR__ . '/../../php/tests/fixture_app.php';
[$path, $query] = array_pad(explode('?', $_SERVER['REQUEST_URI'], 2), 2, '');
$req = new Thinkgate\Request(['method' => $_SERVER['REQUEST_METHOD'], 'uri' => $_SERVER['REQUEST_URI'],
    'path' => $path, 'query' => $query, 'headers' => [], 'cookies' => $_COOKIE], file_get_contents('php://input'));
$res = $handler($req);
if ($res instanceof Thinkgate\Response) {
    http_response_code($res->status);
    foreach ($res->headers as $name => $values) {
        foreach ($values as $v) header("$name: $v", false);
    }
    echo $res->body;
} elseif (is_array($res)) {
    header('Content-Type: application/json');
    echo json_encode($res);
} else {
    echo $res;
}
