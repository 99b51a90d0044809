<?php
// An app with a WebSocket handler (events.sink = "php"): it greets, echoes,
// refuses connections whose URL asks for it, and tells the uid "observer"
// when a client leaves.
declare(strict_types=1);

use Thinkgate\Gateway;
use Thinkgate\WsEvent;

return [
    'http' => fn() => 'http ok',
    'ws' => function (WsEvent $e) {
        switch ($e->type) {
            case 'connect':
                if (str_contains($e->uri, 'reject')) {
                    return false;
                }
                return ['type' => 'welcome', 'client_id' => $e->clientId, 'ua' => $e->headers['User-Agent'] ?? ''];
            case 'message':
                if (str_starts_with($e->data, 'slow ')) {
                    usleep(20000); // later messages of this client must still come after this one
                }
                if ($e->data === 'boom') {
                    throw new RuntimeException('the handler failed');
                }
                return 'echo: ' . $e->data;
            case 'close':
                Gateway::sendToUid('observer', 'closed ' . $e->clientId);
                return null;
        }
        return null;
    },
];
