<?php
// As the ThinkPHP skeleton's: the app's own Request and exception handler.
return [
    'think\Request' => \app\Request::class,
];
