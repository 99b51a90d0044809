<?php
declare(strict_types=1);

namespace think;

/** ThinkPHP's Cookie: built with the request; save() sends what set() queued. */
class Cookie
{
    protected $config = ['expire' => 0, 'path' => '/', 'domain' => '', 'secure' => false, 'httponly' => false, 'samesite' => ''];
    protected $cookie = [];

    public function __construct(protected Request $request, array $config = [])
    {
        $this->config = array_merge($this->config, array_change_key_case($config));
    }

    public static function __make(Request $request, Config $config)
    {
        return new static($request, $config->get('cookie', []));
    }

    public function get(string $name = '', $default = null)
    {
        return $this->request->cookie($name, $default);
    }

    public function set(string $name, string $value, $option = null): void
    {
        $config = $this->config;
        if (is_array($option)) {
            $config = array_merge($config, array_change_key_case($option));
        } elseif (is_numeric($option)) {
            $config['expire'] = $option;
        }
        $expire = !empty($config['expire']) ? time() + intval($config['expire']) : 0;
        $this->cookie[$name] = [$value, $expire, $config];
    }

    public function delete(string $name): void
    {
        $this->cookie[$name] = ['', time() - 3600, $this->config];
    }

    public function getCookie(): array
    {
        return $this->cookie;
    }

    public function save(): void
    {
        foreach ($this->cookie as $name => $val) {
            [$value, $expire, $option] = $val;
            setcookie($name, $value, ['expires' => $expire, 'path' => $option['path'], 'domain' => $option['domain'],
                'secure' => $option['secure'], 'httponly' => $option['httponly'], 'samesite' => $option['samesite']]);
        }
    }
}
