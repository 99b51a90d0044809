<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * Push to WebSocket clients and query them, with GatewayWorker's method
 * names. Inside a request served by a thinkgate worker the calls go over the
 * worker's pipe (no TCP round trip); anywhere else (cron, queue consumers,
 * php-fpm) over the HTTP API at self::$api. Results are the HTTP API's:
 * counts as int, yes/no as bool, lists as arrays, a session as an array.
 *
 *     use Thinkgate\Gateway;
 *     Gateway::sendToUid('42', ['type' => 'notice', 'text' => 'hi']);
 *
 * $data is sent as one text frame: a string as is, anything else as JSON.
 */
final class Gateway
{
    /** The HTTP API for calls outside a worker (THINKGATE_API, default http://127.0.0.1:2829). */
    public static string $api = '';
    /** api.key, when thinkgate has one (THINKGATE_API_KEY). */
    public static string $key = '';
    /** Seconds an HTTP API call may take. */
    public static float $timeout = 5.0;

    public static function sendToAll($data, ?array $clientIds = null, $exclude = null): int
    {
        return (int)self::call('sendToAll', ['data' => $data] + self::opt('client_ids', $clientIds) + self::opt('exclude', $exclude));
    }

    public static function sendToClient(string $clientId, $data): bool
    {
        return (bool)self::call('sendToClient', ['client_id' => $clientId, 'data' => $data]);
    }

    /**
     * @param string|int|array $uid one uid or a list
     * @param bool $store keep the message for each uid that has no client, and
     *                    deliver it when the uid connects (the offline inbox)
     */
    public static function sendToUid($uid, $data, bool $store = false): int
    {
        return (int)self::call('sendToUid', ['uid' => $uid, 'data' => $data] + ($store ? ['store' => true] : []));
    }

    /** How many messages wait in $uid's offline inbox. */
    public static function getInboxCount($uid): int
    {
        return (int)self::call('getInboxCount', ['uid' => $uid]);
    }

    /** Drops $uid's offline inbox; returns how many messages it held. */
    public static function clearInbox($uid): int
    {
        return (int)self::call('clearInbox', ['uid' => $uid]);
    }

    /** @param string|int|array $group one group or a list */
    public static function sendToGroup($group, $data, $exclude = null): int
    {
        return (int)self::call('sendToGroup', ['group' => $group, 'data' => $data] + self::opt('exclude', $exclude));
    }

    public static function bindUid(string $clientId, $uid): bool
    {
        return (bool)self::call('bindUid', ['client_id' => $clientId, 'uid' => $uid]);
    }

    public static function unbindUid(string $clientId, $uid = null): bool
    {
        return (bool)self::call('unbindUid', ['client_id' => $clientId]);
    }

    public static function joinGroup(string $clientId, $group): bool
    {
        return (bool)self::call('joinGroup', ['client_id' => $clientId, 'group' => $group]);
    }

    public static function leaveGroup(string $clientId, $group): bool
    {
        return (bool)self::call('leaveGroup', ['client_id' => $clientId, 'group' => $group]);
    }

    public static function ungroup($group): bool
    {
        return (bool)self::call('ungroup', ['group' => $group]);
    }

    public static function isOnline(string $clientId): bool
    {
        return (bool)self::call('isOnline', ['client_id' => $clientId]);
    }

    public static function isUidOnline($uid): bool
    {
        return (bool)self::call('isUidOnline', ['uid' => $uid]);
    }

    /** @return string[] */
    public static function getClientIdByUid($uid): array
    {
        return (array)self::call('getClientIdByUid', ['uid' => $uid]);
    }

    public static function getUidByClientId(string $clientId): ?string
    {
        $uid = self::call('getUidByClientId', ['client_id' => $clientId]);
        return $uid === null ? null : (string)$uid;
    }

    public static function getAllClientIdCount(): int
    {
        return (int)self::call('getAllClientIdCount', []);
    }

    public static function getAllUidCount(): int
    {
        return (int)self::call('getAllUidCount', []);
    }

    public static function getClientIdCountByGroup($group): int
    {
        return (int)self::call('getClientIdCountByGroup', ['group' => $group]);
    }

    /** @return string[] */
    public static function getClientIdListByGroup($group): array
    {
        return (array)self::call('getClientIdListByGroup', ['group' => $group]);
    }

    /** @return string[] */
    public static function getUidListByGroup($group): array
    {
        return (array)self::call('getUidListByGroup', ['group' => $group]);
    }

    /** @return string[] */
    public static function getAllGroupIdList(): array
    {
        return (array)self::call('getAllGroupIdList', []);
    }

    public static function setSession(string $clientId, array $session): bool
    {
        return (bool)self::call('setSession', ['client_id' => $clientId, 'session' => (object)$session]);
    }

    public static function updateSession(string $clientId, array $session): bool
    {
        return (bool)self::call('updateSession', ['client_id' => $clientId, 'session' => (object)$session]);
    }

    /** The session, [] when never set, null for an unknown client. */
    public static function getSession(string $clientId): ?array
    {
        $s = self::call('getSession', ['client_id' => $clientId]);
        return $s === null ? null : (array)$s;
    }

    public static function closeClient(string $clientId, $data = null): bool
    {
        return (bool)self::call('closeClient', ['client_id' => $clientId] + self::opt('data', $data));
    }

    public static function destroyClient(string $clientId): bool
    {
        return (bool)self::call('destroyClient', ['client_id' => $clientId]);
    }

    /**
     * Runs any operation of the API by name with its params.
     *
     * @throws GatewayException when thinkgate refuses the call or cannot be reached
     */
    public static function call(string $method, array $params)
    {
        $worker = Worker::inRequest();
        if ($worker !== null) {
            return $worker->call($method, $params);
        }
        return self::http($method, $params);
    }

    private static function http(string $method, array $params)
    {
        $api = self::$api !== '' ? self::$api : (getenv('THINKGATE_API') ?: 'http://127.0.0.1:2829');
        $key = self::$key !== '' ? self::$key : (string)getenv('THINKGATE_API_KEY');
        $headers = "Content-Type: application/json\r\n" . ($key !== '' ? "Authorization: Bearer $key\r\n" : '');
        $ctx = stream_context_create(['http' => [
            'method' => 'POST', 'header' => $headers, 'ignore_errors' => true, 'timeout' => self::$timeout,
            'content' => json_encode((object)$params, Protocol::JSON_FLAGS),
        ]]);
        $body = @file_get_contents(rtrim($api, '/') . '/api/' . $method, false, $ctx);
        if ($body === false) {
            $err = error_get_last();
            throw new GatewayException('unreachable', "thinkgate API at $api: " . ($err['message'] ?? 'no answer'));
        }
        return GatewayException::unwrap(json_decode($body, true));
    }

    private static function opt(string $name, $value): array
    {
        return $value === null ? [] : [$name => $value];
    }
}
