<?php
// Reads frames from fd 3 and writes each back on fd 4 with type+100 and the
// same flags, meta and body, printing noise to stdout and stderr in between
// (which must not disturb the protocol; ECHO_QUIET=1 leaves it out, for the
// round-trip benchmark). Exits on STOP.
declare(strict_types=1);
require __DIR__ . '/../autoload.php';

use Thinkgate\Protocol;

$in = fopen('php://fd/3', 'rb');
$out = fopen('php://fd/4', 'wb');
echo "stray echo before READY\n";
Protocol::write($out, Protocol::READY, 0, json_encode(['pid' => getmypid()]));
while (($f = Protocol::read($in)) !== null) {
    [$type, $flags, $meta, $body] = $f;
    if ($type === Protocol::STOP) {
        exit(0);
    }
    if (getenv('ECHO_QUIET') !== '1') {
        echo "stdout noise for type $type\n";
        fwrite(STDERR, "stderr noise\n");
    }
    Protocol::write($out, $type + 100, $flags, $meta, $body);
}
