<?php
// Connect tokens for thinkgate's auth.secret: HS256 JSON Web Tokens. A
// client that connects with ws://host:2828/?token=... (or sends
// {"type":"auth","token":"..."} first) is bound to the token's uid and joins
// its groups, with no AJAX bind call.
declare(strict_types=1);

namespace Thinkgate;

final class Token
{
    /**
     * Mints a token for $uid, valid for $ttl seconds.
     *
     * @param string   $secret  the same value as thinkgate's auth.secret
     * @param string[] $groups  groups to join at connect
     * @param array|null $session the connection's session (an associative array)
     */
    public static function mint(string $secret, string $uid, array $groups = [], int $ttl = 3600, ?array $session = null): string
    {
        if ($uid === '') {
            throw new \InvalidArgumentException('uid must not be empty');
        }
        $claims = ['sub' => $uid, 'iat' => time(), 'exp' => time() + $ttl];
        if ($groups) {
            $claims['groups'] = array_values(array_map('strval', $groups));
        }
        if ($session !== null) {
            $claims['session'] = (object) $session;
        }
        $head = self::b64('{"alg":"HS256","typ":"JWT"}');
        $body = self::b64(json_encode($claims, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR));
        return $head . '.' . $body . '.' . self::b64(hash_hmac('sha256', $head . '.' . $body, $secret, true));
    }

    private static function b64(string $s): string
    {
        return rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    }
}
