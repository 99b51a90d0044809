<?php
declare(strict_types=1);

namespace think\console;

use think\App;
use think\console\input\Argument;
use think\console\input\Option;

/** ThinkPHP's console command base: configure() names it and declares its input; execute() runs it. */
abstract class Command
{
    protected App $app;
    protected Input $input;
    protected Output $output;
    private string $name = '';
    private string $description = '';
    /** @var Argument[] */
    private array $arguments = [];
    /** @var Option[] */
    private array $options = [];

    public function __construct()
    {
        $this->configure();
    }

    protected function configure()
    {
    }

    abstract protected function execute(Input $input, Output $output);

    public function setApp(App $app): void
    {
        $this->app = $app;
    }

    public function setName(string $name): static
    {
        $this->name = $name;
        return $this;
    }

    public function getName(): string
    {
        return $this->name;
    }

    public function setDescription(string $description): static
    {
        $this->description = $description;
        return $this;
    }

    public function addArgument(string $name, ?int $mode = null, string $description = '', $default = null): static
    {
        $this->arguments[] = new Argument($name, $mode, $description, $default);
        return $this;
    }

    public function addOption(string $name, ?string $shortcut = null, ?int $mode = null, string $description = '', $default = null): static
    {
        $this->options[] = new Option($name, $shortcut, $mode, $description, $default);
        return $this;
    }

    public function run(Input $input, Output $output): int
    {
        $input->bind($this->arguments, $this->options);
        $this->input = $input;
        $this->output = $output;
        return (int)$this->execute($input, $output);
    }
}
