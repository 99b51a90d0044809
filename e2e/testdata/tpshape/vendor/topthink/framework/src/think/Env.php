<?php
declare(strict_types=1);

namespace think;

/** .env as ThinkPHP reads it: INI, keys upper-cased, [SECTION] keys as SECTION_KEY. */
class Env
{
    protected $data = [];

    public function __construct()
    {
        $this->data = $_ENV;
    }

    public function load(string $file): void
    {
        $env = parse_ini_file($file, true, INI_SCANNER_RAW) ?: [];
        foreach ($env as $key => $val) {
            if (is_array($val)) {
                foreach ($val as $k => $v) {
                    $this->data[strtoupper($key . '_' . $k)] = $v;
                }
            } else {
                $this->data[strtoupper($key)] = $val;
            }
        }
    }

    public function get(string $name = null, $default = null)
    {
        if ($name === null) {
            return $this->data;
        }
        $name = strtoupper(str_replace('.', '_', $name));
        if (!isset($this->data[$name])) {
            $env = getenv('PHP_' . $name);
            return $env === false ? $default : $env;
        }
        $val = $this->data[$name];
        $map = ['true' => true, 'on' => true, 'yes' => true, 'false' => false, 'off' => false, 'no' => false];
        return is_string($val) && isset($map[strtolower($val)]) ? $map[strtolower($val)] : $val;
    }
}
