<?php
// The app's own front controller: it binds a Route subclass and sets a static
// before $http->run(), as real ThinkPHP apps do.
namespace think;

require __DIR__ . '/../vendor/autoload.php';

$app = new App();
$app->bind('route', \app\common\ShopRoute::class);
\app\common\Site::$brand = 'Fixture Shop';

$http = $app->http;
$response = $http->run();
$response->send();
$http->end($response);
