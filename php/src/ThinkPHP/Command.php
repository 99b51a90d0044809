<?php
declare(strict_types=1);

namespace Thinkgate\ThinkPHP;

use think\console\Command as ThinkCommand;
use think\console\Input;
use think\console\input\Argument;
use think\console\input\Option;
use think\console\Output;

/**
 * `php think thinkgate start|stop|restart|reload|status|connections|config`,
 * as ThinkPHP users drove the Workerman module (`php think worker ...`): it
 * runs the thinkgate binary on this project and passes its output and exit
 * code through.
 *
 * Settings: config/thinkgate.php (a PHP array with the sections and keys of
 * thinkgate.toml, php.app defaulting to the project root) when it exists,
 * written to runtime/thinkgate.toml for the binary; otherwise thinkgate.toml
 * in the project root, if any; otherwise thinkgate's defaults. The binary:
 * 'binary' in config/thinkgate.php, else $THINKGATE_BINARY, else thinkgate
 * on the PATH, else ./thinkgate in the project root.
 */
class Command extends ThinkCommand
{
    private const ACTIONS = ['start', 'stop', 'restart', 'reload', 'status', 'connections', 'config'];

    protected function configure()
    {
        $this->setName('thinkgate')
            ->addArgument('action', Argument::OPTIONAL, implode('|', self::ACTIONS), 'start')
            ->addOption('daemon', 'd', Option::VALUE_NONE, 'start or restart in the background')
            ->addOption('graceful', 'g', Option::VALUE_NONE, 'stop: let requests in flight finish')
            ->addOption('watch', 'w', Option::VALUE_NONE, 'start: reload PHP workers when files change')
            ->addOption('json', null, Option::VALUE_NONE, 'status, connections: JSON')
            ->setDescription('Run the thinkgate gateway and resident PHP server on this project');
    }

    protected function execute(Input $input, Output $output)
    {
        $action = (string)$input->getArgument('action');
        if (!in_array($action, self::ACTIONS, true)) {
            $output->writeln("thinkgate: unknown action '$action'; one of " . implode(', ', self::ACTIONS));
            return 2;
        }
        $root = rtrim($this->app->getRootPath(), '/\\') . DIRECTORY_SEPARATOR;
        $settings = is_file($root . 'config/thinkgate.php') ? (array)require $root . 'config/thinkgate.php' : null;
        $args = [$action];
        foreach (['daemon' => '-d', 'graceful' => '-g', 'watch' => '-watch', 'json' => '-json'] as $name => $flag) {
            if ($input->getOption($name)) {
                $args[] = $flag;
            }
        }
        if ($settings !== null) {
            $file = $root . 'runtime' . DIRECTORY_SEPARATOR . 'thinkgate.toml';
            if (!is_dir(dirname($file))) {
                mkdir(dirname($file), 0o755, true);
            }
            unset($settings['binary']);
            $settings['php']['app'] ??= rtrim($root, '/\\');
            file_put_contents($file, Toml::encode($settings));
            array_push($args, '-c', $file);
        } elseif (is_file($root . 'thinkgate.toml')) {
            array_push($args, '-c', $root . 'thinkgate.toml');
        }
        $bin = self::binary($root, $this->app->config->get('thinkgate.binary'));
        $env = getenv();
        unset($env['THINKGATE_BINARY']); // ours, not one of thinkgate's overrides
        $proc = proc_open(array_merge([$bin], $args), [STDIN, STDOUT, STDERR], $pipes, $root, $env);
        if (!is_resource($proc)) {
            $output->writeln("thinkgate: cannot run $bin");
            return 1;
        }
        return proc_close($proc);
    }

    /** The thinkgate binary to run. */
    private static function binary(string $root, $configured): string
    {
        if (is_string($configured) && $configured !== '') {
            return $configured;
        }
        if (($env = getenv('THINKGATE_BINARY')) !== false && $env !== '') {
            return $env;
        }
        $exe = PHP_OS_FAMILY === 'Windows' ? 'thinkgate.exe' : 'thinkgate';
        foreach (explode(PATH_SEPARATOR, (string)getenv('PATH')) as $dir) {
            if ($dir !== '' && is_file($dir . DIRECTORY_SEPARATOR . $exe)) {
                return $dir . DIRECTORY_SEPARATOR . $exe;
            }
        }
        return $root . $exe;
    }
}
