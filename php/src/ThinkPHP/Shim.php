<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

/**
 * Puts thinkgate's think\App, think\Http and think\Request in place before
 * the app's code runs: ThinkPHP's own classes are loaded under other names
 * (think\ThinkgateBaseApp, ...) and thinkgate's classes of the real names
 * extend them. So `new App()` in public/index.php, an app's own subclasses
 * (app\Request), and every `$app->http` get thinkgate's behaviour: web mode
 * from the first line (runningInConsole() and isCli() are false), the front
 * controller's boot captured, routes kept per route folder, uploads that
 * move() under php-cli (shim/*.php).
 */
final class Shim
{
    /** @var array<string, string> the class thinkgate replaces => the name ThinkPHP's own gets */
    private const RENAMED = ['think\\App' => 'ThinkgateBaseApp', 'think\\Http' => 'ThinkgateBaseHttp',
        'think\\Request' => 'ThinkgateBaseRequest'];

    /**
     * Loads the app's Composer autoloader and thinkgate's ThinkPHP classes.
     *
     * @throws \RuntimeException when the framework cannot be found or was loaded already
     */
    public static function install(string $root): void
    {
        require_once $root . '/vendor/autoload.php';
        foreach (array_keys(self::RENAMED) as $class) {
            if (class_exists($class, false)) {
                throw new \RuntimeException("$class was loaded by vendor/autoload.php before thinkgate could serve it "
                    . '(a Composer "files" entry that uses it?)');
            }
        }
        foreach (self::RENAMED as $class => $base) {
            $file = self::findFile($class);
            if ($file === null) {
                throw new \RuntimeException("$class not found by vendor/autoload.php: is topthink/framework installed?");
            }
            eval(self::rename((string)file_get_contents($file), $file, substr($class, 6), $base));
        }
        foreach (array_keys(self::RENAMED) as $class) {
            require __DIR__ . '/shim/' . substr($class, 6) . '.php';
        }
    }

    /** The file Composer's class loader maps $class to, without loading it. */
    private static function findFile(string $class): ?string
    {
        foreach (spl_autoload_functions() as $loader) {
            if (is_array($loader) && is_object($loader[0]) && method_exists($loader[0], 'findFile')) {
                $file = $loader[0]->findFile($class);
                if (is_string($file) && $file !== '') {
                    return realpath($file) ?: $file;
                }
            }
        }
        return null;
    }

    /**
     * The source of ThinkPHP's class with the class renamed, ready for eval:
     * __DIR__ and __FILE__ keep the original file's values, so paths derived
     * from them (App's thinkPath and root path) are what they would be.
     */
    private static function rename(string $source, string $file, string $short, string $base): string
    {
        $out = '';
        $renamed = false;
        $afterClass = false;
        foreach (\PhpToken::tokenize($source) as $t) {
            if ($t->id === T_OPEN_TAG) {
                continue;
            }
            if ($t->id === T_DIR) {
                $out .= var_export(dirname($file), true);
            } elseif ($t->id === T_FILE) {
                $out .= var_export($file, true);
            } elseif ($t->id === T_CLASS_C) {
                $out .= var_export('think\\' . $short, true);
            } elseif ($afterClass && $t->id === T_STRING) {
                if ($t->text !== $short) {
                    throw new \RuntimeException("expected class $short in $file, found {$t->text}");
                }
                $out .= $base;
                $afterClass = false;
                $renamed = true;
            } else {
                $out .= $t->text;
                if ($t->id === T_CLASS && !$renamed) {
                    $afterClass = true;
                }
            }
        }
        if (!$renamed) {
            throw new \RuntimeException("no class $short declared in $file");
        }
        return $out;
    }
}
