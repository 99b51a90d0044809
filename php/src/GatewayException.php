<?php
declare(strict_types=1);

namespace Thinkgate;

/** thinkgate refused a gateway call: the API's error code and message. */
final class GatewayException extends \RuntimeException
{
    public string $errorCode;

    public function __construct(string $code, string $message)
    {
        parent::__construct("$code: $message");
        $this->errorCode = $code;
    }

    /** Returns the result of a decoded {"result"} / {"error"} reply, or throws. */
    public static function unwrap($reply)
    {
        if (!is_array($reply)) {
            throw new self('bad_reply', 'thinkgate answered something that is not JSON');
        }
        if (isset($reply['error'])) {
            throw new self((string)($reply['error']['code'] ?? 'error'), (string)($reply['error']['message'] ?? ''));
        }
        return $reply['result'] ?? null;
    }
}
