<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * The resident worker loop: announce READY, then serve one request at a time
 * from thinkgate until told to stop. The handler gets a Request and returns
 * a string, a Response, or an array (sent as JSON).
 *
 * exit(), die() and fatal errors inside a request end the process; the
 * shutdown function then still answers with what the request printed (exit)
 * or a 500 (fatal), flagged RECYCLE, and thinkgate starts a replacement.
 */
final class Worker
{
    private $in;
    private $out;
    private bool $inRequest = false;
    private bool $answered = false;
    private int $obLevel = 0;
    private bool $debug;
    private bool $cancelSeen = false;
    private static ?Worker $current = null;

    public function __construct($in, $out, bool $debug = false)
    {
        $this->in = $in;
        $this->out = $out;
        $this->debug = $debug;
    }

    /**
     * Opens the protocol channel thinkgate gave this worker: the pipes it
     * passes as fd 3 and fd 4, or (THINKGATE_CHANNEL=tcp://..., where a child
     * cannot be given extra descriptors, as on Windows) a loopback
     * connection back to thinkgate, opened with the one-time token it set.
     */
    public static function fromPipes(bool $debug = false): self
    {
        $channel = getenv('THINKGATE_CHANNEL');
        if (is_string($channel) && str_starts_with($channel, 'tcp://')) {
            $token = (string)getenv('THINKGATE_CHANNEL_TOKEN');
            putenv('THINKGATE_CHANNEL_TOKEN'); // nothing the app runs needs to see it
            unset($_SERVER['THINKGATE_CHANNEL_TOKEN'], $_ENV['THINKGATE_CHANNEL_TOKEN']);
            $ctx = stream_context_create(['socket' => ['tcp_nodelay' => true]]); // one frame, one segment, at once
            $s = @stream_socket_client($channel, $errno, $errstr, 10, STREAM_CLIENT_CONNECT, $ctx);
            if (!$s) {
                fwrite(STDERR, "thinkgate worker: cannot connect back to thinkgate at $channel: $errstr\n");
                exit(2);
            }
            stream_set_blocking($s, true);
            fwrite($s, $token . "\n");
            return new self($s, $s, $debug);
        }
        $in = @fopen('php://fd/3', 'rb');
        $out = @fopen('php://fd/4', 'wb');
        if (!$in || !$out) {
            fwrite(STDERR, "thinkgate worker: no protocol pipes on fd 3/4; start me through thinkgate\n");
            exit(2);
        }
        return new self($in, $out, $debug);
    }

    /**
     * Serves requests with $handler, and WebSocket events with $ws when
     * given (events.sink = "php"), until thinkgate sends STOP or the pipe ends.
     */
    public function serve(callable $handler, array $ready = [], ?callable $ws = null): void
    {
        self::$current = $this;
        register_shutdown_function([$this, 'onShutdown']);
        Protocol::write($this->out, Protocol::READY, 0, json_encode($ready + [
            'pid' => getmypid(), 'php' => PHP_VERSION, 'lib' => '1',
        ], Protocol::JSON_FLAGS));
        while (($frame = Protocol::read($this->in)) !== null) {
            [$type, , $meta, $body] = $frame;
            switch ($type) {
                case Protocol::REQUEST:
                    $this->handle($handler, json_decode($meta, true) ?: [], $body);
                    break;
                case Protocol::WS_EVENT:
                    $this->event($ws, json_decode($meta, true) ?: [], $body);
                    break;
                case Protocol::PING:
                    Protocol::write($this->out, Protocol::PONG);
                    break;
                case Protocol::STOP:
                    return;
            }
        }
    }

    /** The worker serving a request right now in this process, or null (boot, CLI, php-fpm). */
    public static function inRequest(): ?self
    {
        return self::$current !== null && self::$current->inRequest ? self::$current : null;
    }

    /**
     * Runs a gateway operation through thinkgate over the worker pipe (no
     * TCP): the HTTP API's operations, parameters and results.
     *
     * @throws GatewayException when thinkgate refuses the call
     */
    public function call(string $method, array $params)
    {
        Protocol::write($this->out, Protocol::PUSH, 0, json_encode(['method' => $method, 'params' => (object)$params], Protocol::JSON_FLAGS));
        while (($frame = Protocol::read($this->in)) !== null) {
            if ($frame[0] === Protocol::PUSH_OK) {
                return GatewayException::unwrap(json_decode($frame[2], true));
            }
            if ($frame[0] === Protocol::CANCEL) {
                $this->cancelSeen = true; // the client went away; cancelled() reports it
            }
        }
        throw new ProtocolException('thinkgate closed the pipe during a gateway call');
    }

    private function handle(callable $handler, array $meta, string $body): void
    {
        $this->cancelSeen = false;
        $request = new Request($meta, $body);
        $request->populateGlobals();
        $this->inRequest = true;
        $this->answered = false;
        http_response_code(200);
        $this->obLevel = ob_get_level();
        ob_start();
        try {
            $result = $handler($request);
            $response = $result instanceof Response ? $result
                : (is_array($result) ? Response::json($result) : new Response((string)$result));
            if (!is_string($response->body)) {
                $this->stream($response);
            } else {
                $this->respond($response->status, $response->headers, $this->collectOutput() . $response->body);
            }
        } catch (\Throwable $e) {
            $this->collectOutput();
            fwrite(STDERR, "thinkgate worker: uncaught " . get_class($e) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine() . "\n");
            $text = $this->debug ? (string)$e : 'Internal Server Error';
            Protocol::write($this->out, Protocol::ERROR, 0, json_encode(['message' => $e->getMessage()], Protocol::JSON_FLAGS), $text);
            $this->answered = true;
        } finally {
            $this->inRequest = false;
            Request::clearGlobals();
        }
    }

    /** Runs the app's WebSocket handler for one event and answers with its reply. */
    private function event(?callable $ws, array $meta, string $body): void
    {
        $this->inRequest = true;
        $this->answered = false;
        $this->cancelSeen = false;
        $this->obLevel = ob_get_level();
        ob_start();
        try {
            $result = $ws !== null ? $ws(new WsEvent($meta, $body)) : null;
            $stray = $this->collectOutput();
            if ($stray !== '') {
                fwrite(STDERR, "thinkgate worker: output during a WebSocket event (use the return value): " . substr($stray, 0, 200) . "\n");
            }
            $reply = is_array($result) ? json_encode($result, Protocol::JSON_FLAGS) : (is_string($result) ? $result : '');
            $meta = ['status' => 200, 'reject' => $result === false, 'mem' => memory_get_usage(true)];
            Protocol::write($this->out, Protocol::RESPONSE, 0, json_encode($meta, Protocol::JSON_FLAGS), $reply);
            $this->answered = true;
        } catch (\Throwable $e) {
            $this->collectOutput();
            fwrite(STDERR, "thinkgate worker: uncaught " . get_class($e) . ' in a WebSocket event: ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine() . "\n");
            Protocol::write($this->out, Protocol::ERROR, 0, json_encode(['message' => $e->getMessage()], Protocol::JSON_FLAGS), '');
            $this->answered = true;
        } finally {
            $this->inRequest = false;
        }
    }

    private function respond(int $status, array $headers, string $body, int $flags = 0): void
    {
        $meta = ['status' => $status, 'headers' => (object)$headers, 'mem' => memory_get_usage(true)];
        Protocol::write($this->out, Protocol::RESPONSE, $flags, json_encode($meta, Protocol::JSON_FLAGS), $body);
        $this->answered = true;
    }

    private function stream(Response $response): void
    {
        $head = ['status' => $response->status, 'headers' => (object)$response->headers];
        Protocol::write($this->out, Protocol::RESP_HEAD, 0, json_encode($head, Protocol::JSON_FLAGS));
        $this->answered = true;
        $pending = $this->collectOutput();
        if ($pending !== '') {
            Protocol::write($this->out, Protocol::RESP_CHUNK, 0, '', $pending);
        }
        foreach ($response->body as $chunk) {
            if ($this->cancelled()) {
                break;
            }
            Protocol::write($this->out, Protocol::RESP_CHUNK, 0, '', (string)$chunk);
        }
        Protocol::write($this->out, Protocol::RESP_END, 0, json_encode(['mem' => memory_get_usage(true)]));
    }

    /** True when thinkgate said the client went away (a CANCEL frame is waiting). */
    private function cancelled(): bool
    {
        if ($this->cancelSeen) {
            return true;
        }
        $r = [$this->in];
        $w = $e = null;
        if (@stream_select($r, $w, $e, 0) !== 1) {
            return false;
        }
        $frame = Protocol::read($this->in);
        return $frame === null || $frame[0] === Protocol::CANCEL;
    }

    /** Ends the buffers this request opened and returns what was printed. */
    private function collectOutput(): string
    {
        $out = '';
        while (ob_get_level() > $this->obLevel) {
            $out = ob_get_clean() . $out;
        }
        return $out;
    }

    /** @internal Answers a request cut short by exit(), die() or a fatal error. */
    public function onShutdown(): void
    {
        if (!$this->inRequest || $this->answered) {
            return;
        }
        $printed = $this->collectOutput();
        $err = error_get_last();
        $fatal = $err !== null && in_array($err['type'], [E_ERROR, E_CORE_ERROR, E_COMPILE_ERROR, E_PARSE, E_USER_ERROR, E_RECOVERABLE_ERROR], true);
        if ($fatal) {
            fwrite(STDERR, "thinkgate worker: fatal error: {$err['message']} at {$err['file']}:{$err['line']}\n");
            $body = $this->debug ? $printed . "\n" . $err['message'] : 'Internal Server Error';
            $this->respond(500, [], $body, Protocol::FLAG_RECYCLE);
        } else {
            fwrite(STDERR, "thinkgate worker: exit() during a request; the worker is replaced (avoid exit/die in resident mode)\n");
            $code = http_response_code();
            $this->respond(is_int($code) ? $code : 200, [], $printed, Protocol::FLAG_RECYCLE);
        }
    }
}
