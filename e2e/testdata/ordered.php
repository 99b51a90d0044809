<?php
// 200 calls in a row, each on its own connection as GatewayClient makes them:
// sendToClient(A, "0"), sendToClient(A, "1"), ... They must arrive in order.
[$addr, $conn] = (function ($cid) {
    $p = unpack('Nip/nport/Nconn', pack('H*', $cid));
    return [long2ip($p['ip']) . ':' . $p['port'], $p['conn']];
})(getenv('A'));
for ($i = 0; $i < 200; $i++) {
    $body = (string)$i;
    $s = stream_socket_client("tcp://$addr", $errno, $errstr, 3);
    fwrite($s, pack('NCNnNnNCnN', 28 + strlen($body), 5, 0, 0, 0, 0, $conn, 1, 0, 0) . $body);
    fclose($s);
}
