<?php
declare(strict_types=1);

namespace think;

use Closure;
use think\console\Input;
use think\console\Output;

/**
 * ThinkPHP's console, as far as `php think <command>` needs: the app is
 * initialized (services registered, so they can add commands through
 * Service::commands), the starting callbacks run, config console.commands
 * is read, and the command named by the first argument runs.
 */
class Console
{
    /** @var Closure[] */
    protected static array $startCallbacks = [];

    protected array $commands = [];

    public function __construct(protected App $app)
    {
        $this->app->initialized() || $this->app->initialize();
        foreach (static::$startCallbacks as $callback) {
            $callback($this);
        }
        $this->addCommands($this->app->config->get('console.commands', []));
    }

    public static function starting(Closure $callback): void
    {
        static::$startCallbacks[] = $callback;
    }

    public function addCommands(array $commands): void
    {
        foreach ($commands as $name => $class) {
            $this->commands[is_string($name) ? $name : $class] = $class;
        }
    }

    /** Runs the command of $argv[1] and returns its exit code. */
    public function run(): int
    {
        $argv = $_SERVER['argv'] ?? [];
        $name = $argv[1] ?? 'list';
        $output = new Output();
        if ($name === 'list') {
            foreach (array_keys($this->commands) as $n) {
                $output->writeln($n);
            }
            return 0;
        }
        if (!isset($this->commands[$name])) {
            $output->writeln("Command \"$name\" is not defined.");
            return 1;
        }
        $command = new ($this->commands[$name])();
        $command->setApp($this->app);
        return $command->run(new Input(array_slice($argv, 2)), $output);
    }
}
