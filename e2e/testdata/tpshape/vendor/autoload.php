<?php
// A Composer-shaped autoloader: PSR-4 prefixes and a findFile() method, as
// Composer's ClassLoader has.
require_once __DIR__ . '/fixture/ClassLoader.php';

return \Fixture\ClassLoader::getLoader(__DIR__);
