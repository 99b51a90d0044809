<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

/**
 * Writes config/thinkgate.php's array as the TOML thinkgate reads: one table
 * per section, strings, integers, floats, booleans and lists of strings.
 */
final class Toml
{
    public static function encode(array $sections): string
    {
        $out = "# Written by php think thinkgate from config/thinkgate.php; edit that file instead.\n";
        foreach ($sections as $section => $keys) {
            if (!is_array($keys)) {
                throw new \InvalidArgumentException("config/thinkgate.php: '$section' must be a section (an array of keys)");
            }
            $out .= "\n[" . $section . "]\n";
            foreach ($keys as $key => $value) {
                $out .= $key . ' = ' . self::value($value, "$section.$key") . "\n";
            }
        }
        return $out;
    }

    private static function value($v, string $key): string
    {
        return match (true) {
            is_bool($v) => $v ? 'true' : 'false',
            is_int($v), is_float($v) => (string)$v,
            is_string($v) => json_encode($v, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
            is_array($v) && array_is_list($v) => '[' . implode(', ', array_map(fn($x) => self::value($x, $key), $v)) . ']',
            default => throw new \InvalidArgumentException("config/thinkgate.php: $key must be a string, number, boolean or list"),
        };
    }
}
