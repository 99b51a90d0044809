<?php
// Global middleware (loaded by Http::loadMiddleware).
return [
    \app\middleware\PoweredBy::class,
];
