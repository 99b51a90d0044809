<?php
declare(strict_types=1);

namespace think;

class Config
{
    protected $config = [];

    public function load(string $file, string $name = ''): array
    {
        $config = is_file($file) ? include $file : [];
        if ($name === '') {
            $this->config = array_replace_recursive($this->config, $config);
            return $this->config;
        }
        $this->config[$name] = array_replace_recursive($this->config[$name] ?? [], $config);
        return $this->config[$name];
    }

    public function has(string $name): bool
    {
        return !is_null($this->get($name));
    }

    public function get(string $name = null, $default = null)
    {
        if (empty($name)) {
            return $this->config;
        }
        $config = $this->config;
        foreach (explode('.', $name) as $val) {
            if (!is_array($config) || !array_key_exists($val, $config)) {
                return $default;
            }
            $config = $config[$val];
        }
        return $config;
    }

    public function set(array $config, string $name = null): array
    {
        if ($name === null) {
            return $this->config = array_merge($this->config, array_change_key_case($config));
        }
        $this->config[$name] = array_merge($this->config[$name] ?? [], $config);
        return $this->config[$name];
    }
}
