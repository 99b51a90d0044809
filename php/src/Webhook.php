<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * Receives thinkgate's event webhook (events.sink = "webhook"): checks the
 * X-Thinkgate-Signature HMAC and that X-Thinkgate-Timestamp is within five
 * minutes, and returns the events.
 *
 *     foreach (Thinkgate\Webhook::events(getenv('THINKGATE_WEBHOOK_SECRET')) as $e) {
 *         // $e['type']: connect, message, close, online, offline
 *     }
 */
final class Webhook
{
    /** Verifies the current request (php-fpm, thinkgate) and returns its events; throws when it is not thinkgate's. */
    public static function events(string $secret, ?string $body = null, ?array $server = null): array
    {
        $server ??= $_SERVER;
        $body ??= (string)file_get_contents('php://input');
        self::verify($secret, (string)($server['HTTP_X_THINKGATE_TIMESTAMP'] ?? ''), (string)($server['HTTP_X_THINKGATE_SIGNATURE'] ?? ''), $body);
        $data = json_decode($body, true);
        return is_array($data['events'] ?? null) ? $data['events'] : [];
    }

    /** Throws \UnexpectedValueException unless the signature and timestamp are right. */
    public static function verify(string $secret, string $timestamp, string $signature, string $body, int $maxSkew = 300): void
    {
        if (!ctype_digit($timestamp) || abs(time() - (int)$timestamp) > $maxSkew) {
            throw new \UnexpectedValueException('webhook timestamp missing or more than ' . $maxSkew . ' s away');
        }
        $want = 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
        if (!hash_equals($want, $signature)) {
            throw new \UnexpectedValueException('webhook signature does not match');
        }
    }
}
