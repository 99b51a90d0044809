<?php
declare(strict_types=1);

namespace think;

/** ThinkPHP's Request, in its shape: built from the globals by __make, or set with the with*() methods. */
class Request
{
    protected $method;
    protected $domain;
    protected $host;
    protected $root;
    protected $url;
    protected $baseUrl;
    protected $pathinfo;
    protected $header = [];
    protected $server = [];
    protected $get = [];
    protected $post = [];
    protected $request = [];
    protected $cookie = [];
    protected $file = [];
    protected $input = '';
    protected $session;

    public function __construct()
    {
        $this->input = file_get_contents('php://input') ?: '';
    }

    public static function __make(App $app)
    {
        $request = new static();
        $header = [];
        foreach ($_SERVER as $key => $val) {
            if (str_starts_with($key, 'HTTP_')) {
                $header[str_replace('_', '-', strtolower(substr($key, 5)))] = $val;
            }
        }
        if (isset($_SERVER['CONTENT_TYPE'])) {
            $header['content-type'] = $_SERVER['CONTENT_TYPE'];
        }
        $request->header = $header;
        $request->server = $_SERVER;
        $request->get = $_GET;
        $request->post = $_POST;
        $request->request = $_REQUEST;
        $request->cookie = $_COOKIE;
        $request->file = $_FILES ?? [];
        return $request;
    }

    public function setMethod(string $method)
    {
        $this->method = strtoupper($method);
        return $this;
    }

    /** The method, with ThinkPHP's overrides: a _method form field, X-HTTP-Method-Override. */
    public function method(bool $origin = false): string
    {
        if ($origin) {
            return $this->server('REQUEST_METHOD') ?: 'GET';
        }
        if (!$this->method) {
            if (isset($this->post['_method'])) {
                $this->method = strtoupper($this->post['_method']);
            } elseif ($this->server('HTTP_X_HTTP_METHOD_OVERRIDE')) {
                $this->method = strtoupper($this->server('HTTP_X_HTTP_METHOD_OVERRIDE'));
            } else {
                $this->method = $this->server('REQUEST_METHOD') ?: 'GET';
            }
        }
        return $this->method;
    }

    public function isCli(): bool
    {
        return PHP_SAPI == 'cli';
    }

    public function isPost(): bool
    {
        return $this->method() === 'POST';
    }

    public function withHeader(array $header)
    {
        $this->header = array_change_key_case($header);
        return $this;
    }

    public function withServer(array $server)
    {
        $this->server = array_change_key_case($server, CASE_UPPER);
        return $this;
    }

    public function withGet(array $get)
    {
        $this->get = $get;
        return $this;
    }

    public function withPost(array $post)
    {
        $this->post = $post;
        return $this;
    }

    public function withCookie(array $cookie)
    {
        $this->cookie = $cookie;
        return $this;
    }

    public function withFiles(array $files)
    {
        $this->file = $files;
        return $this;
    }

    public function withInput(string $input)
    {
        $this->input = $input;
        return $this;
    }

    public function withSession($session)
    {
        $this->session = $session;
        return $this;
    }

    public function setUrl(string $url)
    {
        $this->url = $url;
        return $this;
    }

    public function url(bool $complete = false): string
    {
        if (!$this->url) {
            $this->url = $this->server['REQUEST_URI'] ?? '';
        }
        return $complete ? $this->domain() . $this->url : $this->url;
    }

    public function setBaseUrl(string $url)
    {
        $this->baseUrl = $url;
        return $this;
    }

    public function baseUrl(bool $complete = false): string
    {
        if (!$this->baseUrl) {
            $this->baseUrl = strpos($this->url(), '?') !== false ? strstr($this->url(), '?', true) : $this->url();
        }
        return $this->baseUrl;
    }

    public function setRoot(string $root)
    {
        $this->root = $root;
        return $this;
    }

    public function root(bool $complete = false): string
    {
        return $this->root ?? '';
    }

    public function domain(): string
    {
        return 'http://' . $this->host();
    }

    public function host(bool $strict = false): string
    {
        $host = $this->header['host'] ?? ($this->server['HTTP_HOST'] ?? '');
        return $strict && str_contains($host, ':') ? strstr($host, ':', true) : $host;
    }

    public function setPathinfo(string $pathinfo)
    {
        $this->pathinfo = $pathinfo;
        return $this;
    }

    public function pathinfo(): string
    {
        if (is_null($this->pathinfo)) {
            if (isset($this->get['s'])) {
                $pathinfo = $this->get['s'];
            } else {
                $pathinfo = (string)parse_url($this->url(), PHP_URL_PATH);
                if (str_starts_with($pathinfo, '/index.php')) {
                    $pathinfo = substr($pathinfo, 10);
                }
            }
            $this->pathinfo = ltrim($pathinfo, '/');
        }
        return $this->pathinfo;
    }

    public function header(string $name = '', string $default = null)
    {
        if ($name === '') {
            return $this->header;
        }
        return $this->header[strtolower($name)] ?? $default;
    }

    public function server(string $name = '', string $default = '')
    {
        return $name === '' ? $this->server : ($this->server[strtoupper($name)] ?? $default);
    }

    public function get($name = '', $default = null)
    {
        return $name === '' ? $this->get : ($this->get[$name] ?? $default);
    }

    public function post($name = '', $default = null)
    {
        return $name === '' ? $this->post : ($this->post[$name] ?? $default);
    }

    public function param($name = '', $default = null)
    {
        $post = $this->post;
        if (!$post && str_contains((string)$this->header('content-type'), 'json')) {
            $post = (array)json_decode($this->input, true);
        }
        $param = array_merge($this->get, $post);
        return $name === '' ? $param : ($param[$name] ?? $default);
    }

    public function cookie(string $name = '', $default = null)
    {
        return $name === '' ? $this->cookie : ($this->cookie[$name] ?? $default);
    }

    public function getContent(): string
    {
        return $this->input;
    }

    public function getInput(): string
    {
        return $this->input;
    }

    public function file(string $name = '')
    {
        $files = $this->file;
        if (!empty($files)) {
            $array = $this->dealUploadFile($files, $name);
            return $name === '' ? $array : ($array[$name] ?? null);
        }
        return null;
    }

    protected function dealUploadFile(array $files, string $name): array
    {
        $array = [];
        foreach ($files as $key => $file) {
            if ($file['error'] > 0) {
                if ($name == $key) {
                    $this->throwUploadFileError($file['error']);
                }
                continue;
            }
            $array[$key] = new File($file['tmp_name'], is_uploaded_file($file['tmp_name']));
        }
        return $array;
    }

    protected function throwUploadFileError($error)
    {
        throw new \RuntimeException('upload error ' . $error);
    }
}
