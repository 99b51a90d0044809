<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * One HTTP request as thinkgate parsed it. Superglobals are filled for
 * legacy code; prefer the properties.
 */
final class Request
{
    public string $method;
    public string $uri;
    public string $path;
    public string $query;
    /** @var array<string, list<string>> */
    public array $headers;
    public array $get = [];
    public array $post = [];
    public array $cookies;
    public array $files = [];
    public array $server;
    public string $body;

    public function __construct(array $meta, string $body)
    {
        $this->method = $meta['method'] ?? 'GET';
        $this->uri = $meta['uri'] ?? '/';
        $this->path = $meta['path'] ?? '/';
        $this->query = $meta['query'] ?? '';
        $this->headers = $meta['headers'] ?? [];
        $cookie = $this->header('Cookie');
        $this->cookies = $cookie !== null ? self::parseCookies($cookie) : ($meta['cookies'] ?? []);
        $this->body = $body;
        parse_str($this->query, $this->get);
        // Form pairs keep their order and PHP's nesting (a[b][]=1) through parse_str.
        $pairs = [];
        foreach ($meta['form'] ?? [] as [$k, $v]) {
            $pairs[] = rawurlencode((string)$k) . '=' . rawurlencode((string)$v);
        }
        parse_str(implode('&', $pairs), $this->post);
        $this->files = self::buildFiles($meta['files'] ?? []);
        $this->server = self::buildServer($meta);
    }

    /** The first value of a header (any case), or null. */
    public function header(string $name): ?string
    {
        foreach ($this->headers as $k => $values) {
            if (strcasecmp($k, $name) === 0) {
                return $values[0] ?? null;
            }
        }
        return null;
    }

    public function populateGlobals(): void
    {
        $_GET = $this->get;
        $_POST = $this->post;
        $_COOKIE = $this->cookies;
        $_FILES = $this->files;
        $_SERVER = $this->server + self::baseServer();
        $_REQUEST = $this->post + $this->get;
    }

    public static function clearGlobals(): void
    {
        $_GET = $_POST = $_COOKIE = $_FILES = $_REQUEST = [];
        $_SERVER = self::baseServer();
    }

    /**
     * The process's own $_SERVER (environment, argv) without anything a
     * request sets, taken once: a request's headers never outlive it.
     */
    private static function baseServer(): array
    {
        static $base = null;
        if ($base === null) {
            $base = array_filter($_SERVER, static fn ($k) => !preg_match(
                '/^(HTTP_|CONTENT_|HTTPS$|REQUEST_|QUERY_STRING$|PATH_INFO$|PHP_SELF$|SCRIPT_|DOCUMENT_ROOT$|REMOTE_|SERVER_|ORIG_PATH_INFO$)/',
                (string)$k
            ), ARRAY_FILTER_USE_KEY);
        }
        return $base;
    }

    /**
     * $_COOKIE as PHP builds it from a Cookie header: pairs split at ';',
     * names and values rawurl-decoded, the first of a repeated name kept,
     * names mangled and nested as PHP does (a.b is a_b, a[x] an array).
     */
    private static function parseCookies(string $header): array
    {
        $pairs = [];
        $seen = [];
        foreach (explode(';', $header) as $part) {
            $part = ltrim($part, " \t");
            if ($part === '') {
                continue;
            }
            [$name, $value] = array_pad(explode('=', $part, 2), 2, '');
            $name = rawurldecode($name);
            if ($name === '' || isset($seen[$name])) {
                continue;
            }
            $seen[$name] = true;
            $pairs[] = rawurlencode($name) . '=' . rawurlencode(rawurldecode($value));
        }
        parse_str(implode('&', $pairs), $cookies);
        return $cookies;
    }

    /** PHP's $_FILES layout, including name[] and name[a] nesting. */
    private static function buildFiles(array $list): array
    {
        $files = [];
        foreach ($list as $f) {
            $field = (string)$f['field'];
            $entry = ['name' => $f['name'], 'type' => $f['type'], 'tmp_name' => $f['tmp_name'], 'error' => $f['error'], 'size' => $f['size']];
            $base = strstr($field, '[', true);
            if ($base === false) {
                $files[$field] = $entry;
                continue;
            }
            $sub = substr($field, strlen($base)); // e.g. "[]" or "[a]"
            foreach ($entry as $key => $value) {
                parse_str('x' . $sub . '=' . rawurlencode((string)$value), $tmp);
                $merged = array_merge_recursive($files[$base][$key] ?? [], $tmp['x']);
                if (!isset($files[$base])) {
                    $files[$base] = [];
                }
                $files[$base][$key] = is_int($value) ? self::intLeaves($merged) : $merged;
            }
        }
        return $files;
    }

    private static function intLeaves(array $a): array
    {
        array_walk_recursive($a, function (&$v) { $v = is_numeric($v) ? (int)$v : $v; });
        return $a;
    }

    /** $_SERVER as `php think run` (php -S with a router) gives it. */
    private static function buildServer(array $m): array
    {
        $s = [
            'DOCUMENT_ROOT' => $m['document_root'] ?? '',
            'REMOTE_ADDR' => $m['remote_addr'] ?? '',
            'REMOTE_PORT' => (string)($m['remote_port'] ?? ''),
            'SERVER_SOFTWARE' => 'thinkgate',
            'SERVER_PROTOCOL' => $m['protocol'] ?? 'HTTP/1.1',
            'SERVER_NAME' => $m['server_name'] ?? '',
            'SERVER_PORT' => (string)($m['server_port'] ?? ''),
            'REQUEST_URI' => $m['uri'] ?? '/',
            'REQUEST_METHOD' => $m['method'] ?? 'GET',
            'SCRIPT_NAME' => '/index.php',
            'SCRIPT_FILENAME' => rtrim($m['document_root'] ?? '', '/') . '/index.php',
            'PHP_SELF' => '/index.php',
            'REQUEST_TIME' => time(),
            'REQUEST_TIME_FLOAT' => microtime(true),
        ];
        // As php -S with a router: PATH_INFO is the path after /index.php, or
        // the whole path; none for / and /index.php. QUERY_STRING only with a query.
        $path = $m['path'] ?? '/';
        if ($path === '/index.php' || str_starts_with($path, '/index.php/')) {
            $path = substr($path, 10);
        }
        if ($path !== '' && $path !== '/') {
            $s['PATH_INFO'] = $path;
            $s['PHP_SELF'] .= $path;
        }
        if (($m['query'] ?? '') !== '') {
            $s['QUERY_STRING'] = $m['query'];
        }
        foreach ($m['headers'] ?? [] as $name => $values) {
            $key = strtoupper(str_replace('-', '_', $name));
            $value = implode(', ', $values);
            if ($key === 'CONTENT_TYPE' || $key === 'CONTENT_LENGTH') {
                $s[$key] = $value;
            } else {
                $s['HTTP_' . $key] = $value;
            }
        }
        if (($m['scheme'] ?? 'http') === 'https') {
            $s['HTTPS'] = 'on';
        }
        return $s;
    }
}
