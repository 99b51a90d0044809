<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

use Thinkgate\Request;
use Thinkgate\Response;

/**
 * Serves a ThinkPHP 6/8 app from a resident worker.
 *
 * Boot, once per worker: thinkgate's think\App and think\Http are put in
 * place (Shim), then the app's own public/index.php runs, so whatever it does
 * before `$http->run()` (bindings, statics, init calls) is done as under
 * php -S; its run() boots the app in web mode, with no client request, and
 * hands its Http to thinkgate. app/middleware.php is loaded and the app's
 * state is kept.
 *
 * Per request: the same App serves it with a fresh request, response,
 * cookie, session, view, http and route (the log is written and emptied by
 * ThinkPHP at the end of each request); afterwards the app's bindings,
 * instances, paths and namespace, and the contents of its config, event,
 * middleware and lang objects, are put back as they were after boot. One
 * user's session or cookies never reach another, and a static that kept the
 * booted app (static::$app = $this->app) reaches the current request.
 * Route files are loaded once per route folder and kept (php.preload).
 */
final class Adapter
{
    private static ?Adapter $current = null;

    private \think\App $app;
    /** The front controller's Http; each request runs a copy of it. */
    private ?\think\Http $http = null;
    /** @var array<string, mixed> the App's properties after boot */
    private array $appState = [];
    /** @var list<array{object, array}> objects whose contents are put back after each request */
    private array $restored = [];
    /** @var array<string, array{\think\Route, array}> route folder => its loaded router and its state */
    private array $routes = [];
    private bool $capturing = false;
    private bool $booted = false;
    private bool $preload = true;
    private int $served = 0;

    /** Per-request instances: made anew by each request, dropped after it. */
    private const PER_REQUEST = ['request', 'response', 'cookie', 'session', 'view', 'http', 'route',
        'think\Request', 'think\Response'];
    /** Long-lived objects a request may change: their contents are put back after it. */
    private const RESTORED = ['config', 'event', 'middleware', 'lang'];

    /** The adapter of this worker once it started booting, else null. */
    public static function current(): ?self
    {
        return self::$current;
    }

    /** @internal true while public/index.php runs at boot. */
    public function capturing(): bool
    {
        return $this->capturing;
    }

    /** @internal true once the app is booted and its state kept. */
    public function booted(): bool
    {
        return $this->booted;
    }

    /** @internal whether route and middleware files are loaded once (php.preload). */
    public function preloads(): bool
    {
        return $this->preload;
    }

    /**
     * Boots the app at $root through its front controller $index (when the
     * file exists; else as ThinkPHP's stock index.php would).
     *
     * @throws \RuntimeException when the app cannot be booted as it would be under php -S
     */
    public static function boot(string $root, string $index = '', bool $preload = true): self
    {
        $self = new self();
        $self->preload = $preload;
        self::$current = $self;
        Shim::install($root);
        $level = ob_get_level();
        $self->capturing = true;
        try {
            if ($index !== '' && is_file($index)) {
                $self->runFrontController($index);
            } else { // what ThinkPHP's stock public/index.php does
                (new \think\App($root))->http->run();
            }
        } finally {
            $self->capturing = false;
            $printed = '';
            while (ob_get_level() > $level) {
                $printed = ob_get_clean() . $printed;
            }
            if (trim($printed) !== '') {
                fwrite(STDERR, 'thinkgate worker: output while booting: ' . substr($printed, 0, 2000) . "\n");
            }
        }
        $self->afterBoot();
        return $self;
    }

    /**
     * Runs public/index.php with $_SERVER as a web request to it would have;
     * its $http->run() boots the app and returns at once (capture).
     */
    private function runFrontController(string $index): void
    {
        $saved = $_SERVER;
        $_SERVER['SCRIPT_FILENAME'] = $index;
        $_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = '/' . basename($index);
        $_SERVER['DOCUMENT_ROOT'] = dirname($index);
        try {
            (static function (string $file): void {
                require $file;
            })($index);
        } finally {
            $_SERVER = $saved;
        }
        if ($this->http === null) {
            throw new \RuntimeException("$index finished without calling \$http->run(): thinkgate boots a ThinkPHP app "
                . 'through its front controller. Keep `$http = $app->http; $response = $http->run();` in it, '
                . 'or move the boot code into a service (app/service.php) or an AppInit listener (app/event.php)');
        }
    }

    /** @internal called by think\Http::run() while index.php runs at boot. */
    public function capture(\think\Http $http): \think\Response
    {
        $this->http = $http;
        $this->app = (fn () => $this->app)->call($http);
        // index.php may send() and end() it: both do nothing at boot.
        return new class extends \think\Response {
            public function __construct()
            {
            }

            public function send(): void
            {
            }
        };
    }

    private function afterBoot(): void
    {
        $app = $this->app;
        if ($this->preload) {
            $this->http->thinkgateLoadMiddleware();
        }
        foreach (self::PER_REQUEST as $name) {
            $app->delete($name);
        }
        $this->appState = $app->thinkgateState();
        foreach (self::RESTORED as $name) {
            if ($app->exists($name)) {
                $o = $app->make($name);
                $this->restored[] = [$o, self::state($o)];
            }
        }
        $this->booted = true;
    }

    /** @internal $_FILES entries as test-mode UploadedFile objects. */
    public static function uploadedFiles(\think\Request $request, array $files, string $name): array
    {
        $make = fn ($tmp, $n, $type, $err) => new \think\file\UploadedFile($tmp, $n, $type, $err, true);
        $out = [];
        foreach ($files as $key => $f) {
            if ($f instanceof \think\File) {
                $out[$key] = $f;
                continue;
            }
            if (is_array($f['name'])) {
                $list = [];
                foreach (array_keys($f['name']) as $i) {
                    if ($f['error'][$i] > 0) {
                        if ($name == $key) {
                            $request->thinkgateUploadError((int)$f['error'][$i]);
                        }
                        continue;
                    }
                    $list[] = $make($f['tmp_name'][$i], $f['name'][$i], $f['type'][$i], $f['error'][$i]);
                }
                $out[$key] = $list;
                continue;
            }
            if ($f['error'] > 0) {
                if ($name == $key) {
                    $request->thinkgateUploadError((int)$f['error']);
                }
                continue;
            }
            $out[$key] = $make($f['tmp_name'], $f['name'], $f['type'], $f['error']);
        }
        return $out;
    }

    /**
     * @internal the router of a route folder, its files loaded by $load the
     * first time (into the request's fresh router) and kept after that.
     */
    public function route(string $path, \Closure $load): \think\Route
    {
        $app = $this->app;
        if (isset($this->routes[$path])) {
            [$route] = $this->routes[$path];
            $app->instance('route', $route);
            // What ThinkPHP's Route constructor does to each request: the
            // middleware of the route config ('middleware' in config/route.php,
            // often the login and permission checks) joins the route queue.
            $middleware = (fn () => $this->config['middleware'] ?? [])->call($route);
            if (!empty($middleware)) {
                $app->middleware->import($middleware, 'route');
            }
            return $route;
        }
        $route = $app->route;
        $load();
        $this->routes[$path] = [$route, self::state($route)];
        return $route;
    }

    public function __invoke(Request $r): Response
    {
        $app = $this->app;
        $app->thinkgateBegin();
        try {
            $request = $app->make('request', [], true);
            $headers = [];
            foreach ($r->headers as $name => $values) {
                $headers[strtolower($name)] = implode(', ', $values);
            }
            // No setMethod(): ThinkPHP reads REQUEST_METHOD, _method and X-HTTP-Method-Override itself.
            $request->withHeader($headers)->withServer($_SERVER)->withGet($_GET)->withPost($_POST)
                ->withCookie($_COOKIE)->withFiles($_FILES)->withInput($r->body);
            // ThinkPHP takes the URL from argv under php-cli: give it the request's.
            $request->setBaseUrl($r->path)->setUrl($r->uri);
            if (!isset($_GET['s'])) { // ?s= is ThinkPHP's compatible pathinfo: it reads it itself
                $request->setPathinfo(ltrim((string)($_SERVER['PATH_INFO'] ?? ''), '/'));
            }
            $app->instance('request', $request);
            $http = clone $this->http;
            $app->instance('http', $http);
            $response = $http->run($request);
            $content = $response->getContent();
            $out = new Response($content, $response->getCode());
            foreach ($response->getHeader() as $name => $value) {
                foreach ((array)$value as $v) {
                    $out->header($name, (string)$v);
                }
            }
            // As Response::send(): cookies go out only with a response that has the Cookie (not File).
            $cookie = (fn () => $this->cookie ?? null)->call($response);
            if ($cookie instanceof \think\Cookie) {
                foreach (self::setCookies($cookie->getCookie()) as $line) {
                    $out->header('Set-Cookie', $line);
                }
            }
            $http->end($response);
            return $out;
        } finally {
            $this->rollBackTransactions($app);
            if ($app->exists('db')) {
                $app->db->clearQueryTimes();
            }
            $this->reset();
            unset($request, $http, $response, $cookie);
            // A request's objects refer to each other; collect them every 64
            // requests (after each one it cost 60-80 us a request, measured).
            if (++$this->served % 64 === 0) {
                gc_collect_cycles();
            }
        }
    }

    /** Puts the app back as it was after boot. */
    private function reset(): void
    {
        $this->app->thinkgateRestore($this->appState);
        \think\Container::setInstance($this->app);
        foreach ($this->restored as [$o, $state]) {
            self::restore($o, $state);
        }
        foreach ($this->routes as [$route, $state]) {
            self::restore($route, $state);
        }
    }

    /** An object's properties, as its class sees them. */
    private static function state(object $o): array
    {
        return \Closure::bind(fn () => get_object_vars($this), $o, get_class($o))();
    }

    private static function restore(object $o, array $state): void
    {
        \Closure::bind(function () use ($state) {
            foreach ($state as $k => $v) {
                $this->$k = $v;
            }
        }, $o, get_class($o))();
    }

    /**
     * Set-Cookie lines from think\Cookie::getCookie() (name => [value,
     * expire, options]), written as PHP's setcookie() writes them.
     */
    private static function setCookies(array $cookies): array
    {
        $lines = [];
        foreach ($cookies as $name => [$value, $expire, $opt]) {
            $value = (string)$value;
            if ($value === '') {
                $line = $name . '=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0';
            } else {
                $line = $name . '=' . rawurlencode($value);
                if ($expire) {
                    $line .= '; expires=' . gmdate('D, d M Y H:i:s', (int)$expire) . ' GMT; Max-Age=' . max(0, (int)$expire - time());
                }
            }
            foreach (['path' => 'path', 'domain' => 'domain'] as $k => $label) {
                if (!empty($opt[$k])) {
                    $line .= "; $label=" . $opt[$k];
                }
            }
            if (!empty($opt['secure'])) {
                $line .= '; secure';
            }
            if (!empty($opt['httponly'])) {
                $line .= '; HttpOnly';
            }
            if (!empty($opt['samesite'])) {
                $line .= '; SameSite=' . $opt['samesite'];
            }
            $lines[] = $line;
        }
        return $lines;
    }

    /** A request that failed inside a transaction must not leave it open. */
    private function rollBackTransactions(\think\App $app): void
    {
        if (!$app->exists('db')) {
            return;
        }
        try {
            foreach ((function () { return $this->instance ?? []; })->call($app->db) as $conn) {
                if (method_exists($conn, 'getPdo') && ($pdo = $conn->getPdo()) && $pdo->inTransaction()) {
                    $conn->rollback();
                }
            }
        } catch (\Throwable $e) {
            fwrite(STDERR, 'thinkgate: rolling back an open transaction failed: ' . $e->getMessage() . "\n");
        }
    }
}
