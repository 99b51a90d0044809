<?php
// A BusinessWorker written for thinkgate's tests from GatewayWorker's
// protocol as observed on the wire: it asks the Register for
// gateways, attaches with CMD_WORKER_CONNECT, and answers client events
// the way an Events.php would, over its one long-lived connection:
//   onConnect            -> sendToCurrentClient("hello <client_id>"), $_SESSION['n'] = 0
//   onWebSocketConnect   -> sends back get, cookie, SERVER_NAME, REMOTE_ADDR and the gateway port
//   onMessage            -> $_SESSION['n']++, sends back "echo:<msg> n=<n>"
//   onClose              -> prints "closed <client_id> <session json>" and exits
$register = getenv('REGISTER');
$secret = getenv('SECRET') ?: '';

$r = stream_socket_client("tcp://$register", $errno, $errstr, 3);
fwrite($r, '{"event":"worker_connect","secret_key":"' . $secret . '"}' . "\n");
$addresses = json_decode(trim(fgets($r)), true)['addresses'];
$g = stream_socket_client('tcp://' . $addresses[0], $errno, $errstr, 3);

function packet($cmd, $conn, $body, $ext = '', $flag = 1) {
    return pack('NCNnNnNCnN', 28 + strlen($ext) + strlen($body), $cmd, 0, 0, 0, 0, $conn, $flag, 0, strlen($ext)) . $ext . $body;
}
fwrite($g, packet(200, 0, json_encode(['worker_key' => 'TestWorker:0', 'secret_key' => $secret])));
echo "attached\n";

function readn($s, $n) {
    $b = '';
    while (strlen($b) < $n) {
        $chunk = fread($s, $n - strlen($b));
        if ($chunk === '' || $chunk === false) exit("gateway closed\n");
        $b .= $chunk;
    }
    return $b;
}

while (true) {
    $h = unpack('Npack_len/Ccmd/Nlocal_ip/nlocal_port/Nclient_ip/nclient_port/Nconnection_id/Cflag/ngateway_port/Next_len', readn($g, 28));
    $rest = readn($g, $h['pack_len'] - 28);
    $session_str = substr($rest, 0, $h['ext_len']);
    $body = substr($rest, $h['ext_len']);
    $client_id = bin2hex(pack('NnN', $h['local_ip'], $h['local_port'], $h['connection_id']));
    $session = $session_str === '' ? [] : unserialize($session_str);
    $conn = $h['connection_id'];
    switch ($h['cmd']) {
        case 1: // CMD_ON_CONNECT
            fwrite($g, packet(5, $conn, "hello $client_id"));
            $session['n'] = 0;
            fwrite($g, packet(204, $conn, '', serialize($session)));
            break;
        case 205: // CMD_ON_WEBSOCKET_CONNECT, body serialized (flag 0)
            $data = unserialize($body);
            fwrite($g, packet(5, $conn, json_encode([
                'get' => $data['get'], 'cookie' => $data['cookie'],
                'server_name' => $data['server']['SERVER_NAME'], 'remote_addr' => $data['server']['REMOTE_ADDR'],
                'client_ip' => long2ip($h['client_ip']), 'gateway_port' => $h['gateway_port'],
            ])));
            break;
        case 3: // CMD_ON_MESSAGE
            $session['n']++;
            fwrite($g, packet(204, $conn, '', serialize($session)));
            fwrite($g, packet(5, $conn, "echo:$body n={$session['n']}"));
            break;
        case 4: // CMD_ON_CLOSE
            echo "closed $client_id " . json_encode($session) . "\n";
            exit(0);
    }
}
