<?php
// Pushes the way the seed's push.php does: one JSON line to the Text port,
// then one reply line. The address comes from the test; apps use 127.0.0.1:5678.
$addr = getenv('THINKGATE_TEXT') ?: '127.0.0.1:5678';
$client = stream_socket_client('tcp://' . $addr, $errno, $errstr, 3);
if (!$client) {
    fwrite(STDERR, "connect failed: $errstr\n");
    exit(1);
}
// The seed shorthand: no method, a uid; the whole line goes to that uid.
fwrite($client, json_encode(['uid' => getenv('PUSH_UID'), 'percent' => '88%']) . "\n");
echo trim(fgets($client)), "\n";
// The method form, with a numeric uid as PHP apps often have.
fwrite($client, json_encode(['method' => 'sendToUid', 'uid' => 1001, 'data' => ['type' => 'order', 'id' => 7]]) . "\n");
echo trim(fgets($client)), "\n";
