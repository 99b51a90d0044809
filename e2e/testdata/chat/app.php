<?php
// A small resident app for the browser test: it serves a page that connects
// to thinkgate's WebSocket, binds its client_id through an AJAX call to this
// app (GatewayWorker's flow: init, then bind on the backend), and shows what
// it is pushed. The page reports its own DOM back, which the test reads.
declare(strict_types=1);

use Thinkgate\Gateway;
use Thinkgate\Request;
use Thinkgate\Response;

final class Dom
{
    public static string $text = ''; // resident: survives requests (one worker)
}

return function (Request $r) {
    switch ($r->path) {
        case '/':
            $ws = json_encode('ws://' . ($r->get['ws'] ?? '127.0.0.1:2828') . '/');
            return new Response(<<<HTML
<!doctype html>
<title>chat</title>
<ul id="messages"></ul>
<script>
const list = document.getElementById('messages');
function show(text) {
  const li = document.createElement('li');
  li.textContent = text;
  list.appendChild(li);
  fetch('/dom', {method: 'POST', body: list.textContent});
}
const ws = new WebSocket($ws);
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (msg.type === 'init') {
    fetch('/bind', {method: 'POST', body: new URLSearchParams({client_id: msg.client_id})})
      .then((r) => r.json()).then((j) => show(j.bound ? 'bound' : 'not bound'));
    return;
  }
  show(msg.text);
};
</script>
HTML, 200, ['Content-Type' => 'text/html; charset=utf-8']);
        case '/bind':
            return ['bound' => Gateway::bindUid((string)($r->post['client_id'] ?? ''), 'browser-user')];
        case '/dom':
            if ($r->method === 'POST') {
                Dom::$text = $r->body;
                return 'ok';
            }
            return Dom::$text;
    }
    return new Response('not found', 404);
};
