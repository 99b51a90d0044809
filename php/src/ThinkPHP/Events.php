<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

use Thinkgate\Request;
use Thinkgate\WsEvent;

/**
 * WebSocket events for a ThinkPHP app (events.sink = "php"): each runs
 * through ThinkPHP's normal pipeline as a pseudo-request, so a controller
 * action handles it.
 *
 * - A message that is JSON with a "pathInfo" field is POSTed to that path
 *   with the message as its JSON body (so $request->param() holds its
 *   fields); other messages go to the on_message path, when set.
 * - connect and close go to the on_connect and on_close paths, when set; an
 *   on_connect answer with a status of 400 or more refuses the client.
 * - The pseudo-request carries the handshake's query, headers and cookies,
 *   plus X-Thinkgate-Client-Id, X-Thinkgate-Uid and X-Thinkgate-Event.
 * - A non-empty response body is sent back to that client.
 */
final class Events
{
    /** @param array{connect?: string, message?: string, close?: string} $paths */
    public static function handler(Adapter $adapter, array $paths): \Closure
    {
        return static function (WsEvent $e) use ($adapter, $paths) {
            switch ($e->type) {
                case 'connect':
                    if (($paths['connect'] ?? '') === '') {
                        return null;
                    }
                    $res = self::run($adapter, $paths['connect'], $e, '');
                    return $res->status >= 400 ? false : self::body($res);
                case 'message':
                    $msg = $e->binary ? null : json_decode($e->data, true);
                    $path = is_array($msg) && is_string($msg['pathInfo'] ?? null) ? $msg['pathInfo'] : ($paths['message'] ?? '');
                    return $path === '' ? null : self::body(self::run($adapter, $path, $e, $e->data));
                case 'close':
                    if (($paths['close'] ?? '') !== '') {
                        self::run($adapter, $paths['close'], $e, '');
                    }
                    return null;
            }
            return null;
        };
    }

    /** Runs a pseudo-request outside any client (onWorkerStart, onWorkerStop). */
    public static function hook(Adapter $adapter, string $path): void
    {
        $req = new Request(['method' => 'GET', 'uri' => '/' . ltrim($path, '/'), 'path' => '/' . ltrim($path, '/'),
            'headers' => ['X-Thinkgate-Event' => ['worker']]], '');
        $req->populateGlobals();
        try {
            $res = $adapter($req);
            if ($res->status >= 400) {
                fwrite(STDERR, "thinkgate worker: $path answered {$res->status}\n");
            }
        } finally {
            Request::clearGlobals();
        }
    }

    private static function run(Adapter $adapter, string $path, WsEvent $e, string $body): \Thinkgate\Response
    {
        $path = '/' . ltrim($path, '/');
        $query = (string)parse_url($e->uri, PHP_URL_QUERY);
        $headers = [];
        $cookies = [];
        foreach ($e->headers as $name => $value) {
            $headers[$name] = [(string)$value];
            if (strcasecmp($name, 'Cookie') === 0) {
                foreach (explode(';', (string)$value) as $pair) {
                    [$k, $v] = array_pad(explode('=', trim($pair), 2), 2, '');
                    if ($k !== '') {
                        $cookies[$k] = urldecode($v);
                    }
                }
            }
        }
        $headers['Content-Type'] = ['application/json'];
        $headers['X-Thinkgate-Client-Id'] = [$e->clientId];
        $headers['X-Thinkgate-Uid'] = [$e->uid];
        $headers['X-Thinkgate-Event'] = [$e->type];
        $colon = strrpos($e->remote, ':');
        [$ip, $port] = $colon === false ? [$e->remote, ''] : [trim(substr($e->remote, 0, $colon), '[]'), substr($e->remote, $colon + 1)];
        $req = new Request([
            'method' => 'POST', 'uri' => $path . ($query !== '' ? "?$query" : ''), 'path' => $path, 'query' => $query,
            'headers' => $headers, 'cookies' => $cookies, 'remote_addr' => $ip, 'remote_port' => $port,
        ], $body);
        $req->populateGlobals();
        try {
            return $adapter($req);
        } finally {
            Request::clearGlobals();
        }
    }

    private static function body(\Thinkgate\Response $res): ?string
    {
        return is_string($res->body) && $res->body !== '' ? $res->body : null;
    }
}
