<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * What a handler returns when a plain string is not enough: a status,
 * headers (repeated names kept), and a body that is a string, or an
 * iterable of strings for a streamed response (SSE, downloads), whose
 * chunks reach the client as they are produced.
 */
final class Response
{
    /** @var array<string, list<string>> */
    public array $headers = [];

    /** @param string|iterable<string> $body */
    public function __construct(public $body = '', public int $status = 200, array $headers = [])
    {
        foreach ($headers as $name => $value) {
            foreach ((array)$value as $v) {
                $this->header($name, (string)$v);
            }
        }
    }

    /** Adds a header; an existing one of the same name is kept (Set-Cookie style). */
    public function header(string $name, string $value): self
    {
        $this->headers[$name][] = $value;
        return $this;
    }

    /** A streamed response: each string the iterable yields is sent at once. */
    public static function stream(iterable $chunks, int $status = 200, array $headers = []): self
    {
        return new self($chunks, $status, $headers);
    }

    /** A JSON response. */
    public static function json($data, int $status = 200): self
    {
        return new self(json_encode($data, Protocol::JSON_FLAGS), $status, ['Content-Type' => 'application/json']);
    }
}
