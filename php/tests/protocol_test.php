<?php
// Tests of the PHP frame codec; run by thinkgate's Go tests (php php/tests/protocol_test.php).
declare(strict_types=1);
require __DIR__ . '/../autoload.php';

use Thinkgate\Protocol;
use Thinkgate\ProtocolException;

$passed = $failed = 0;
function check(string $name, bool $ok): void
{
    global $passed, $failed;
    if ($ok) { $passed++; } else { $failed++; echo "FAIL: $name\n"; }
}
function mem(string $bytes)
{
    $s = fopen('php://memory', 'w+b');
    fwrite($s, $bytes);
    rewind($s);
    return $s;
}

// A known vector: the literal bytes internal/phpworker/frame_test.go pins
// for Go's codec, so both codecs must agree on every byte, CRC included.
const KNOWN = '011101000e00000003000000e947f5677b22737461747573223a3230307d686900';
$f = Protocol::encode(Protocol::RESPONSE, Protocol::FLAG_RECYCLE, '{"status":200}', "hi\0");
check('known vector', bin2hex($f) === KNOWN);
check('header crc', bin2hex(substr($f, 12, 4)) === 'e947f567');
check('known vector reads back', Protocol::read(mem(hex2bin(KNOWN))) === [Protocol::RESPONSE, Protocol::FLAG_RECYCLE, '{"status":200}', "hi\0"]);

// Round trips, binary and empty.
foreach ([['', ''], ['{}', ''], ['', "\0\1\2\xff"], [json_encode(['é' => '/']), str_repeat('x', 1 << 20)]] as $i => [$meta, $body]) {
    $got = Protocol::read(mem(Protocol::encode(Protocol::REQUEST, 0, $meta, $body)));
    check("round trip $i", $got === [Protocol::REQUEST, 0, $meta, $body]);
}
// Two frames back to back, then a clean end.
$s = mem(Protocol::encode(Protocol::PING) . Protocol::encode(Protocol::STOP, 0, 'm', 'b'));
check('first of two', Protocol::read($s) === [Protocol::PING, 0, '', '']);
check('second of two', Protocol::read($s) === [Protocol::STOP, 0, 'm', 'b']);
check('clean end', Protocol::read($s) === null);

// Bad frames throw.
$bad = [
    'crc' => substr_replace($f, "\x00", 13, 1),
    'version' => (function () { $h = pack('CCvVV', 2, 1, 0, 0, 0); return $h . pack('V', crc32($h)); })(),
    'truncated header' => substr($f, 0, 10),
    'truncated body' => substr($f, 0, -1),
    'stray output' => "Warning: something\n" . $f,
];
foreach ($bad as $name => $bytes) {
    try {
        Protocol::read(mem($bytes));
        check("rejects $name", false);
    } catch (ProtocolException $e) {
        check("rejects $name", true);
    }
}
try {
    Protocol::read(mem(Protocol::encode(Protocol::REQUEST, 0, '', str_repeat('x', 100))), 16, 50);
    check('rejects oversize body', false);
} catch (ProtocolException $e) {
    check('rejects oversize body', true);
}

echo "php protocol: $passed passed, $failed failed\n";
exit($failed === 0 ? 0 : 1);
