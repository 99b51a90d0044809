<?php
// A small client for GatewayWorker's Register and inner protocol, written for
// thinkgate's tests from GatewayWorker's protocol as observed on the wire. It
// talks the way PHP's GatewayClient does: a Register lookup, a 202 auth
// packet before every request, one TCP connection per call, fan-out of
// uid/group sends and aggregate queries to every address, replies framed as
// a 4-byte length plus PHP serialize().
// Usage: REGISTER=127.0.0.1:1236 SECRET=... A=<client_id> B=<client_id> php gatewayclient.php

$register = getenv('REGISTER');
$secret = getenv('SECRET') ?: '';
$a = getenv('A');
$b = getenv('B');

function addresses() {
    global $register, $secret;
    $s = stream_socket_client("tcp://$register", $errno, $errstr, 3);
    if (!$s) throw new Exception("register: $errstr");
    fwrite($s, '{"event":"worker_connect","secret_key":"' . $secret . '"}' . "\n");
    stream_set_timeout($s, 5);
    $reply = json_decode(trim(fgets($s, 655350)), true);
    if (empty($reply['addresses'])) throw new Exception('register returned no addresses');
    return array_values($reply['addresses']);
}

function packet($cmd, $conn, $body, $ext = '') {
    $flag = 1;
    if (!is_scalar($body)) { $body = serialize($body); $flag = 0; }
    $body = (string)$body;
    return pack('NCNnNnNCnN', 28 + strlen($ext) + strlen($body), $cmd, 0, 0, 0, 0, $conn, $flag, 0, strlen($ext)) . $ext . $body;
}

function auth() {
    global $secret;
    return $secret === '' ? '' : packet(202, 0, json_encode(['secret_key' => $secret]));
}

function owner($client_id) {
    if (strlen($client_id) !== 20) throw new Exception("client_id $client_id is invalid");
    $p = unpack('Nip/nport/Nconn', pack('H*', $client_id));
    return [long2ip($p['ip']) . ':' . $p['port'], $p['conn']];
}

function fire($addr, $buf) {
    $s = stream_socket_client("tcp://$addr", $errno, $errstr, 3);
    fwrite($s, auth() . $buf);
    fclose($s); // data then FIN, as GatewayClient does
}

function ask($addr, $buf) {
    $s = stream_socket_client("tcp://$addr", $errno, $errstr, 3);
    fwrite($s, auth() . $buf);
    stream_set_timeout($s, 5);
    $data = '';
    while (strlen($data) < 4 || strlen($data) < 4 + unpack('N', substr($data, 0, 4))[1]) {
        $chunk = fread($s, 65535);
        if ($chunk === '' || $chunk === false) throw new Exception("connection closed by $addr");
        $data .= $chunk;
    }
    return unserialize(substr($data, 4));
}

function each_gateway($buf, $query) {
    $out = [];
    foreach (addresses() as $addr) {
        if ($query) { $out[$addr] = ask($addr, $buf); } else { fire($addr, $buf); }
    }
    return $out;
}

function client_id($addr, $conn) {
    [$ip, $port] = explode(':', $addr);
    return bin2hex(pack('NnN', ip2long($ip), $port, $conn));
}

function bindUid($cid, $uid) { [$addr, $conn] = owner($cid); fire($addr, packet(12, $conn, '', (string)$uid)); }
function joinGroup($cid, $group) { [$addr, $conn] = owner($cid); fire($addr, packet(20, $conn, '', (string)$group)); }
function sendToUid($uids, $msg) { each_gateway(packet(14, 0, $msg, json_encode((array)$uids)), false); }
function sendToGroup($group, $msg, array $exclude_client_ids = []) {
    $exclude = []; // per gateway address, as GatewayClient sends it
    foreach ($exclude_client_ids as $cid) { [$addr, $conn] = owner($cid); $exclude[$addr][$conn] = $conn; }
    foreach (addresses() as $addr) {
        fire($addr, packet(22, 0, $msg, json_encode(['group' => (array)$group, 'exclude' => $exclude[$addr] ?? null])));
    }
}
function getClientIdByUid($uid) {
    $ids = [];
    foreach (each_gateway(packet(15, 0, '', (string)$uid), true) as $addr => $conns) {
        foreach ($conns as $conn) $ids[] = client_id($addr, $conn);
    }
    return $ids;
}
function isUidOnline($uid) { return (int)getClientIdByUid($uid); }
function getAllClientIdCount() { return array_sum(each_gateway(packet(24, 0, '', ''), true)); }
function getClientSessionsByGroup($group) {
    $out = [];
    foreach (each_gateway(packet(23, 0, '', (string)$group), true) as $addr => $sessions) {
        foreach ($sessions as $conn => $s) $out[client_id($addr, $conn)] = $s === '' ? [] : unserialize($s);
    }
    return $out;
}
function setSession($cid, array $session) { [$addr, $conn] = owner($cid); fire($addr, packet(204, $conn, '', serialize($session))); }
function getSession($cid) { [$addr, $conn] = owner($cid); return ask($addr, packet(203, $conn, '')); }
function closeClient($cid, $msg = null) { [$addr, $conn] = owner($cid); fire($addr, packet(7, $conn, $msg)); }

$r = [];
bindUid($a, 1001);
bindUid($b, 'u2');
joinGroup($a, 'room');
joinGroup($b, 'room');
sendToUid([1001, 'u2'], 'hello uids');
sendToGroup('room', ['type' => 'group', 'n' => 1], [$b]);
$r['isUidOnline'] = [isUidOnline(1001), isUidOnline('nobody')];
$r['getClientIdByUid'] = getClientIdByUid('u2');
$r['getAllClientIdCount'] = getAllClientIdCount();
setSession($a, ['name' => 'alice', 'n' => 2, 'f' => 1.5, 'x' => null, 'arr' => ['k' => 'v']]);
// setSession is fire-and-forget on its own connection, so a query on another
// connection can overtake it (as with GatewayWorker); wait for it to land.
for ($i = 0; $i < 100 && ($r['getSession'] = getSession($a)) === []; $i++) usleep(10000);
$r['getSessionAbsent'] = getSession('7f000001' . substr($a, 8, 4) . 'fffffff0');
$r['getClientSessionsByGroup'] = getClientSessionsByGroup('room');
closeClient($b, 'bye');
echo json_encode($r), "\n";
