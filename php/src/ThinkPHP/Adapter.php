<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

use Thinkgate\Request;
use Thinkgate\Response;

/**
 * Serves a ThinkPHP 6/8 app from a resident worker: the app is booted once,
 * with its route and middleware files loaded once, and each request runs in
 * a clone of it with fresh request, response, cookie, session, log, view and
 * lang objects and a fresh copy of the middleware, so one user's session or
 * cookies never reach another (shared/docs/resident-php.md section 4).
 */
final class Adapter
{
    private SandboxApp $base;
    private \think\Config $config;
    private \think\Event $event;
    private ?\think\Route $route = null;           // preloaded routes, re-pointed per request
    private ?\think\Middleware $middleware = null; // preloaded global middleware, cloned per request
    private int $served = 0;

    /** Per-request instances that are dropped after every request. */
    private const PER_REQUEST = ['request', 'response', 'cookie', 'session', 'log', 'view', 'lang',
        'route', 'middleware', 'think\Http', 'http', 'think\Request', 'think\Response'];

    public static function boot(string $root): self
    {
        require_once $root . '/vendor/autoload.php'; // before SandboxApp, which extends think\App
        $app = new SandboxApp($root);
        $app->initialize();
        $self = new self();
        $self->base = $app;
        $self->installRequestClass($app);
        self::bindOrmToCurrentApp($app);
        // Load route and middleware files once. Multi-app mode loads them per
        // app and per request, so it keeps ThinkPHP's own loaders.
        if (!class_exists(\think\app\MultiApp::class) && getenv('THINKGATE_TP_PRELOAD') !== '0') {
            PreloadedHttp::preload($app);
            $self->route = $app->route;
            $self->middleware = $app->middleware;
        }
        $self->config = clone $app->config;
        $self->event = clone $app->event;
        foreach (self::PER_REQUEST as $name) {
            $app->delete($name);
        }
        return $self;
    }

    /**
     * think-orm keeps statics and a logger from boot time: make them look up
     * the app of the request being served, so models resolve that request's
     * services and SQL logs go to its log instead of piling up in the
     * boot-time one.
     */
    private static function bindOrmToCurrentApp(SandboxApp $app): void
    {
        if (!class_exists(\think\Model::class) || !$app->has('db')) {
            return;
        }
        \think\Model::setInvoker(fn (...$args) => \think\Container::getInstance()->invoke(...$args));
        try {
            $app->db->setLog(function ($type, $log) {
                \think\Container::getInstance()->log->log($type, $log);
            });
        } catch (\Throwable $e) {
            fwrite(STDERR, 'thinkgate: database not set up, skipping its log redirect: ' . $e->getMessage() . "\n");
        }
    }

    /**
     * Binds 'request' to a generated subclass of the app's own request class
     * whose uploads work under php-cli: is_uploaded_file() only knows files of
     * a web SAPI, so they are wrapped as test-mode UploadedFiles (moved with
     * rename).
     */
    private function installRequestClass(SandboxApp $app): void
    {
        $parent = $app->boundClass('request') ?? \think\Request::class;
        $class = 'ThinkgateRequest_' . substr(md5($parent), 0, 8);
        if (!class_exists('Thinkgate\\Generated\\' . $class, false)) {
            eval('namespace Thinkgate\\Generated; class ' . $class . ' extends \\' . ltrim($parent, '\\') . ' {
                protected function dealUploadFile(array $files, string $name): array {
                    return \\Thinkgate\\ThinkPHP\\Adapter::uploadedFiles($this, $files, $name);
                }
                public function throwError(int $code): void { $this->throwUploadFileError($code); }
            }');
        }
        $app->bind('request', 'Thinkgate\\Generated\\' . $class);
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
                            $request->throwError((int)$f['error'][$i]);
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
                    $request->throwError((int)$f['error']);
                }
                continue;
            }
            $out[$key] = $make($f['tmp_name'], $f['name'], $f['type'], $f['error']);
        }
        return $out;
    }

    public function __invoke(Request $r): Response
    {
        $base = $this->base;
        $app = clone $base;
        $app->resetBegin();
        $app->serving = true;
        foreach (['app', 'think\App', 'think\Container', SandboxApp::class] as $name) {
            $app->instance($name, $app);
        }
        $base->repointServices($app);
        \think\Container::setInstance($app);
        $app->instance('config', clone $this->config);
        $event = clone $this->event;
        self::repoint($event, $app);
        $app->instance('event', $event);
        foreach (self::PER_REQUEST as $name) {
            $app->delete($name);
        }

        try {
            $request = $app->make('request', [], true);
            $headers = [];
            foreach ($r->headers as $name => $values) {
                $headers[strtolower($name)] = implode(', ', $values);
            }
            $request->setMethod($r->method);
            $request->withHeader($headers)->withServer($_SERVER)->withGet($_GET)->withPost($_POST)
                ->withCookie($_COOKIE)->withFiles($_FILES)->withInput($r->body);
            $request->setBaseUrl($r->path)->setUrl($r->uri)->setPathinfo(ltrim($r->path, '/'));
            $app->instance('request', $request);

            if ($this->route !== null) {
                self::repoint($this->route, $app);
                $app->instance('route', $this->route);
                $middleware = clone $this->middleware; // route middleware is added to it per request
                self::repoint($middleware, $app);
                $app->instance('middleware', $middleware);
                $http = new PreloadedHttp($app);
            } else {
                $http = $app->make(\think\Http::class, [], true);
            }
            $response = $http->run($request);
            $content = $response->getContent();
            $out = new Response($content, $response->getCode());
            foreach ($response->getHeader() as $name => $value) {
                foreach ((array)$value as $v) {
                    $out->header($name, (string)$v);
                }
            }
            if ($app->exists('cookie')) {
                foreach (self::setCookies($app->cookie->getCookie()) as $line) {
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
            $app->serving = false;
            $app->clearInstances();
            \think\Container::setInstance($base);
            unset($app, $event, $request, $http, $response);
            // A request's objects refer to each other; collect them every 64
            // requests (after each one it cost 60-80 us a request, measured).
            if (++$this->served % 64 === 0) {
                gc_collect_cycles();
            }
        }
    }

    /** Points an object's protected $app at the request's app. */
    private static function repoint(object $o, \think\App $app): void
    {
        (function () use ($app) {
            $this->app = $app;
        })->call($o);
    }

    /** Set-Cookie lines from think\Cookie::getCookie(): name => [value, expire, options]. */
    private static function setCookies(array $cookies): array
    {
        $lines = [];
        foreach ($cookies as $name => [$value, $expire, $opt]) {
            $line = rawurlencode((string)$name) . '=' . rawurlencode((string)$value);
            if ($expire) {
                $line .= '; Expires=' . gmdate('D, d M Y H:i:s', (int)$expire) . ' GMT; Max-Age=' . max(0, (int)$expire - time());
            }
            foreach (['path' => 'Path', 'domain' => 'Domain'] as $k => $label) {
                if (!empty($opt[$k])) {
                    $line .= "; $label=" . $opt[$k];
                }
            }
            if (!empty($opt['secure'])) {
                $line .= '; Secure';
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
