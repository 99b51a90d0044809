<?php
declare(strict_types=1);

namespace think;

use think\event\AppInit;
use think\initializer\BootService;
use think\initializer\Error;
use think\initializer\RegisterService;

/**
 * ThinkPHP 8's App, in its shape: the constructor reads app/provider.php,
 * initialize() loads .env, config, app/service.php and vendor/services.php,
 * turns display_errors off outside debug mode and boots the services.
 * runningInConsole() is true under php-cli, as in ThinkPHP.
 */
class App extends Container
{
    const VERSION = '8.0.4-tpshape';

    protected $appDebug = false;
    protected $envName = '';
    protected $beginTime;
    protected $beginMem;
    protected $namespace = 'app';
    protected $rootPath = '';
    protected $thinkPath = '';
    protected $appPath = '';
    protected $runtimePath = '';
    protected $routePath = '';
    protected $configExt = '.php';
    protected $initializers = [Error::class, RegisterService::class, BootService::class];
    protected $services = [];
    protected $initialized = false;
    protected $bind = [
        'app' => App::class,
        'config' => Config::class,
        'cookie' => Cookie::class,
        'env' => Env::class,
        'event' => Event::class,
        'http' => Http::class,
        'lang' => Lang::class,
        'log' => Log::class,
        'middleware' => Middleware::class,
        'request' => Request::class,
        'response' => Response::class,
        'route' => Route::class,
        'session' => Session::class,
    ];

    public function __construct(string $rootPath = '')
    {
        $this->thinkPath = realpath(dirname(__DIR__)) . DIRECTORY_SEPARATOR;
        $this->rootPath = $rootPath ? rtrim($rootPath, DIRECTORY_SEPARATOR) . DIRECTORY_SEPARATOR : $this->getDefaultRootPath();
        $this->appPath = $this->rootPath . 'app' . DIRECTORY_SEPARATOR;
        $this->runtimePath = $this->rootPath . 'runtime' . DIRECTORY_SEPARATOR;
        if (is_file($this->appPath . 'provider.php')) {
            $this->bind(include $this->appPath . 'provider.php');
        }
        static::setInstance($this);
        $this->instance('app', $this);
        $this->instance('think\Container', $this);
    }

    public function register($service, bool $force = false)
    {
        $registered = $this->getService($service);
        if ($registered && !$force) {
            return $registered;
        }
        if (is_string($service)) {
            $service = new $service($this);
        }
        if (method_exists($service, 'register')) {
            $service->register();
        }
        if (property_exists($service, 'bind')) {
            $this->bind($service->bind);
        }
        $this->services[] = $service;
    }

    public function bootService($service)
    {
        if (method_exists($service, 'boot')) {
            return $this->invoke([$service, 'boot']);
        }
    }

    public function getService($service)
    {
        $name = is_string($service) ? $service : $service::class;
        return array_values(array_filter($this->services, fn ($value) => $value instanceof $name))[0] ?? null;
    }

    public function debug(bool $debug = true)
    {
        $this->appDebug = $debug;
        return $this;
    }

    public function isDebug(): bool
    {
        return $this->appDebug;
    }

    public function setNamespace(string $namespace)
    {
        $this->namespace = $namespace;
        return $this;
    }

    public function getNamespace(): string
    {
        return $this->namespace;
    }

    public function getRootPath(): string
    {
        return $this->rootPath;
    }

    public function getBasePath(): string
    {
        return $this->rootPath . 'app' . DIRECTORY_SEPARATOR;
    }

    public function getAppPath(): string
    {
        return $this->appPath;
    }

    public function setAppPath(string $path)
    {
        $this->appPath = $path;
    }

    public function getRuntimePath(): string
    {
        return $this->runtimePath;
    }

    public function setRuntimePath(string $path): void
    {
        $this->runtimePath = $path;
    }

    public function getThinkPath(): string
    {
        return $this->thinkPath;
    }

    public function getConfigPath(): string
    {
        return $this->rootPath . 'config' . DIRECTORY_SEPARATOR;
    }

    public function getBeginTime(): float
    {
        return $this->beginTime;
    }

    public function getBeginMem(): int
    {
        return $this->beginMem;
    }

    public function loadEnv(string $envName = ''): void
    {
        $envFile = $envName ? $this->rootPath . '.env.' . $envName : $this->rootPath . '.env';
        if (is_file($envFile)) {
            $this->env->load($envFile);
        }
    }

    public function initialize()
    {
        $this->initialized = true;
        $this->beginTime = microtime(true);
        $this->beginMem = memory_get_usage();
        $this->loadEnv($this->envName);
        $this->debugModeInit();
        $this->load();
        $this->loadLangPack();
        $this->event->trigger(AppInit::class);
        date_default_timezone_set($this->config->get('app.default_timezone', 'Asia/Shanghai'));
        foreach ($this->initializers as $initializer) {
            $this->make($initializer)->init($this);
        }
        return $this;
    }

    public function initialized()
    {
        return $this->initialized;
    }

    public function loadLangPack(): void
    {
        $this->lang->switchLangSet($this->lang->defaultLangSet());
    }

    public function boot(): void
    {
        array_walk($this->services, function ($service) {
            $this->bootService($service);
        });
    }

    protected function load(): void
    {
        $appPath = $this->getAppPath();
        if (is_file($appPath . 'common.php')) {
            include_once $appPath . 'common.php';
        }
        include_once $this->thinkPath . 'helper.php';
        foreach (glob($this->getConfigPath() . '*' . $this->configExt) ?: [] as $file) {
            $this->config->load($file, pathinfo($file, PATHINFO_FILENAME));
        }
        if (is_file($appPath . 'event.php')) {
            $this->loadEvent(include $appPath . 'event.php');
        }
        if (is_file($appPath . 'service.php')) {
            foreach (include $appPath . 'service.php' as $service) {
                $this->register($service);
            }
        }
    }

    protected function debugModeInit(): void
    {
        if (!$this->appDebug) {
            $this->appDebug = $this->env->get('app_debug') ? true : false;
            ini_set('display_errors', 'Off');
        }
        if (!$this->runningInConsole()) {
            if (ob_get_level() > 0) {
                $output = ob_get_clean();
            }
            ob_start();
            if (!empty($output)) {
                echo $output;
            }
        }
    }

    public function loadEvent(array $event): void
    {
        if (isset($event['listen'])) {
            $this->event->listenEvents($event['listen']);
        }
    }

    public function parseClass(string $layer, string $name): string
    {
        $name = str_replace(['/', '.'], '\\', $name);
        $array = explode('\\', $name);
        $class = str_replace(' ', '', ucwords(str_replace(['-', '_'], ' ', array_pop($array)))); // Str::studly
        $path = $array ? implode('\\', $array) . '\\' : '';
        return $this->namespace . '\\' . $layer . '\\' . $path . $class;
    }

    public function runningInConsole(): bool
    {
        return php_sapi_name() === 'cli' || php_sapi_name() === 'phpdbg';
    }

    protected function getDefaultRootPath(): string
    {
        return dirname($this->thinkPath, 4) . DIRECTORY_SEPARATOR;
    }
}
