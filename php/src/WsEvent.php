<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * A WebSocket client's event, handed to the app's 'ws' handler when
 * events.sink = "php": one at a time per client, in order.
 *
 * The handler's return value: for 'connect', false closes the client
 * (4003); for 'message' (and 'connect'), a non-empty string is sent back to
 * that client, an array as JSON; null or '' sends nothing.
 */
final class WsEvent
{
    /** 'connect', 'message' or 'close' */
    public string $type;
    public string $clientId;
    /** The bound uid, or '' */
    public string $uid;
    /** The message (message events) */
    public string $data;
    public bool $binary;
    /** The handshake's path and query (connect events) */
    public string $uri;
    /** The handshake's headers, name => value (connect events) */
    public array $headers;
    public string $remote;

    public function __construct(array $meta, string $body)
    {
        $this->type = (string)($meta['event'] ?? '');
        $this->clientId = (string)($meta['client_id'] ?? '');
        $this->uid = (string)($meta['uid'] ?? '');
        $this->binary = (bool)($meta['binary'] ?? false);
        $this->uri = (string)($meta['uri'] ?? '');
        $this->headers = (array)($meta['headers'] ?? []);
        $this->remote = (string)($meta['remote'] ?? '');
        $this->data = $body;
    }
}
