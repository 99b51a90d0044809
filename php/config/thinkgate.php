<?php
// Settings of `php think thinkgate start|stop|restart|reload|status|connections`:
// the sections and keys of thinkgate.toml (docs/config.md in thinkgate's
// repository), as PHP arrays. php.app defaults to this project's root.
// Published here by `php think vendor:publish` when the SDK is installed
// with Composer; delete a line to keep thinkgate's default.
return [
    // The thinkgate binary; default: $THINKGATE_BINARY, then thinkgate on the PATH, then ./thinkgate.
    // 'binary' => '/usr/local/bin/thinkgate',
    'ws' => [
        'listen' => '0.0.0.0:2828',
    ],
    'http' => [
        'listen' => '0.0.0.0:8000',
    ],
    'php' => [
        // 'workers' => 4,
    ],
];
