<?php
// A fixture app for thinkgate's tests of resident PHP: it simulates a
// framework's boot cost and state, and has an endpoint for each hazard of
// resident mode. Booted once per worker; returns the request handler.
declare(strict_types=1);

use Thinkgate\Request;
use Thinkgate\Response;

usleep((int)(getenv('FIXTURE_BOOT_MS') ?: 30) * 1000); // a framework's boot
$broken = getenv('FIXTURE_BROKEN_FILE');
if ($broken && is_file($broken)) { // a deploy with a syntax error
    fwrite(STDERR, "PHP Parse error: syntax error, unexpected '}' in app/controller/Index.php on line 7\n");
    exit(255);
}

final class Registry
{
    public static array $sessions = []; // sid => data: a session store that lives in the process
    public static int $hits = 0;        // a static counter: survives requests (documented)
    public static array $leak = [];
}

$bootedAt = microtime(true);

return function (Request $r) use ($bootedAt) {
    Registry::$hits++;
    switch ($r->path) {
        case '/hello':
            return 'hello';
        case '/json':
            return ['ok' => true, 'pid' => getmypid()];
        case '/stray':
            echo 'stray output;';
            return 'body';
        case '/login':
            // A fresh session for this user; the id goes out in a cookie.
            $sid = bin2hex(random_bytes(8));
            Registry::$sessions[$sid] = ['user' => $_GET['user'] ?? ''];
            return (new Response('logged in'))->header('Set-Cookie', "sid=$sid; Path=/; HttpOnly");
        case '/whoami':
            // Must see only the caller's own session: nothing without a cookie.
            $sid = $_COOKIE['sid'] ?? '';
            return Response::json(['user' => Registry::$sessions[$sid]['user'] ?? null, 'cookies' => $_COOKIE]);
        case '/big':
            // A large page: ?mb= megabytes (default 8).
            return str_repeat('x', (int)($_GET['mb'] ?? 8) << 20);
        case '/hog':
            // Allocates ?mb= megabytes (default 1024) without touching memory_limit.
            $hog = str_repeat('x', (int)($_GET['mb'] ?? 1024) << 20);
            return 'allocated ' . strlen($hog);
        case '/hits':
            return (string)Registry::$hits;
        case '/exit':
            echo 'partial output before exit';
            exit();
        case '/fatal':
            // A real fatal error (not a catchable Error): memory exhausted.
            echo 'printed before the fatal error';
            ini_set('memory_limit', '16M');
            $big = str_repeat('x', 64 << 20);
            return 'unreachable' . strlen($big);
        case '/error':
            $missing = 'no_such_function_' . 'here';
            return $missing(); // an Error: caught, 500, the worker stays
        case '/throw':
            throw new RuntimeException('boom');
        case '/sleep':
            usleep((int)($_GET['ms'] ?? 100) * 1000);
            return 'slept';
        case '/stream':
            return Response::stream((function () {
                for ($i = 1; $i <= (int)($_GET['n'] ?? 3); $i++) {
                    yield "data: $i\n\n";
                    usleep((int)($_GET['gap'] ?? 200) * 1000);
                }
            })(), 200, ['Content-Type' => 'text/event-stream', 'Cache-Control' => 'no-cache']);
        case '/leak':
            Registry::$leak[] = str_repeat('x', 1 << 20);
            return (string)count(Registry::$leak);
        case '/mem':
            return (string)memory_get_usage(true);
        case '/upload':
            $f = $_FILES['doc'] ?? null;
            if ($f === null || $f['error'] !== UPLOAD_ERR_OK) {
                return new Response('no file', 400);
            }
            $dest = sys_get_temp_dir() . '/thinkgate-fixture-' . bin2hex(random_bytes(4));
            rename($f['tmp_name'], $dest); // what a resident app does instead of move_uploaded_file()
            $data = file_get_contents($dest);
            unlink($dest);
            return Response::json(['name' => $f['name'], 'type' => $f['type'], 'size' => $f['size'],
                'sha1' => sha1($data), 'title' => $_POST['title'] ?? null, 'tags' => $_POST['tags'] ?? null]);
        case '/server':
            return Response::json(['server' => array_intersect_key($_SERVER, array_flip([
                'REQUEST_METHOD', 'REQUEST_URI', 'QUERY_STRING', 'PATH_INFO', 'SCRIPT_NAME', 'SERVER_PORT',
                'REMOTE_ADDR', 'HTTP_HOST', 'HTTP_X_TEST', 'CONTENT_TYPE', 'SERVER_PROTOCOL', 'PHP_SELF'])),
                'get' => $_GET, 'post' => $_POST, 'body' => $r->body]);
        case '/work':
            // CPU work for ?us= microseconds (default 200, about a resident ThinkPHP action).
            $until = hrtime(true) + (int)($_GET['us'] ?? 200) * 1000;
            $x = 0;
            while (hrtime(true) < $until) {
                $x++;
            }
            return (string)$x;
        case '/booted':
            return (string)$bootedAt;
        case '/inbox': // the offline inbox from inside a request: keep two, count, clear one uid
            $uid = (string)($r->get['uid'] ?? '');
            $sent = \Thinkgate\Gateway::sendToUid($uid, 'kept 1', true)
                + \Thinkgate\Gateway::sendToUid($uid, 'kept 2', true)
                + \Thinkgate\Gateway::sendToUid($uid, 'not kept');
            return ['sent' => $sent, 'waiting' => \Thinkgate\Gateway::getInboxCount($uid),
                'cleared' => \Thinkgate\Gateway::clearInbox('other-' . $uid)];
        case '/gateway': // push and query from inside a request, over the worker pipe
            $uid = (string)($r->get['uid'] ?? '');
            $sent = \Thinkgate\Gateway::sendToUid($uid, ['from' => 'php', 'pid' => getmypid()]);
            $ids = \Thinkgate\Gateway::getClientIdByUid($uid);
            if ($ids) {
                \Thinkgate\Gateway::setSession($ids[0], ['seen' => 'yes']);
            }
            try {
                \Thinkgate\Gateway::sendToUid('', 'x');
                $error = 'none';
            } catch (\Thinkgate\GatewayException $e) {
                $error = $e->errorCode;
            }
            return [
                'sent' => $sent, 'online' => \Thinkgate\Gateway::isUidOnline($uid), 'ids' => $ids,
                'session' => $ids ? \Thinkgate\Gateway::getSession($ids[0]) : null, 'error' => $error,
            ];
    }
    return new Response('not found: ' . $r->path, 404);
};
