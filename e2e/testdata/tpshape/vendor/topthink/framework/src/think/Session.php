<?php
declare(strict_types=1);

namespace think;

/** ThinkPHP's own session store (not PHP's): files under runtime/session, saved at the end of the request. */
class Session
{
    protected $id;
    protected $data = [];
    protected $init = false;

    public function __construct(protected App $app)
    {
    }

    public function getName(): string
    {
        return $this->app->config->get('session.name', 'PHPSESSID');
    }

    public function setId($id = null): void
    {
        $this->id = is_string($id) && strlen($id) === 32 && ctype_xdigit($id) ? $id : md5(microtime(true) . random_bytes(8));
    }

    public function getId(): string
    {
        return $this->id;
    }

    protected function file(): string
    {
        return $this->app->getRootPath() . 'runtime/session/sess_' . $this->id;
    }

    public function init(): void
    {
        $file = $this->file();
        $this->data = is_file($file) ? (unserialize((string)file_get_contents($file)) ?: []) : [];
        $this->init = true;
    }

    public function get(string $name = '', $default = null)
    {
        return $name === '' ? $this->data : ($this->data[$name] ?? $default);
    }

    public function set(string $name, $value): void
    {
        $this->data[$name] = $value;
    }

    public function delete(string $name): void
    {
        unset($this->data[$name]);
    }

    public function clear(): void
    {
        $this->data = [];
    }

    public function save(): void
    {
        if (!$this->init) {
            return;
        }
        @mkdir(dirname($this->file()), 0755, true);
        file_put_contents($this->file(), serialize($this->data), LOCK_EX);
    }
}
