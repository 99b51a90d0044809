<?php
// Loads thinkgate's PHP SDK (namespace Thinkgate, one class per file under
// src/) on first use. Classes that extend a framework's (Thinkgate\ThinkPHP\*)
// load only after the app's own vendor/autoload.php, when they are first used.
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Thinkgate\\', 10) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 10)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
