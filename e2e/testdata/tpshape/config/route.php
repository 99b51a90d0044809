<?php
return [
    'url_route_must' => false,
    // Route middleware from the config, as admin panels declare their login checks.
    'middleware' => [\app\middleware\SecretGuard::class],
];
