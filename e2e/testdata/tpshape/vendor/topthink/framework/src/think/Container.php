<?php
declare(strict_types=1);

namespace think;

use Closure;
use ReflectionClass;
use ReflectionFunction;
use ReflectionFunctionAbstract;
use ReflectionMethod;
use ReflectionNamedType;

/** ThinkPHP's container, in its shape: bind (aliases), instances, make, invoke. */
class Container implements \ArrayAccess
{
    protected static $instance;
    protected $instances = [];
    protected $bind = [];
    protected $invokeCallback = [];

    public static function getInstance()
    {
        if (is_null(static::$instance)) {
            static::$instance = new static;
        }
        return static::$instance;
    }

    public static function setInstance($instance): void
    {
        static::$instance = $instance;
    }

    public function bind($abstract, $concrete = null)
    {
        if (is_array($abstract)) {
            foreach ($abstract as $key => $val) {
                $this->bind($key, $val);
            }
        } elseif ($concrete instanceof Closure) {
            $this->bind[$abstract] = $concrete;
        } elseif (is_object($concrete)) {
            $this->instance($abstract, $concrete);
        } else {
            $abstract = $this->getAlias($abstract);
            if ($abstract != $concrete) {
                $this->bind[$abstract] = $concrete;
            }
        }
        return $this;
    }

    public function getAlias(string $abstract): string
    {
        if (isset($this->bind[$abstract])) {
            $bind = $this->bind[$abstract];
            if (is_string($bind)) {
                return $this->getAlias($bind);
            }
        }
        return $abstract;
    }

    public function instance(string $abstract, $instance)
    {
        $abstract = $this->getAlias($abstract);
        $this->instances[$abstract] = $instance;
        return $this;
    }

    public function bound(string $abstract): bool
    {
        return isset($this->bind[$abstract]) || isset($this->instances[$abstract]);
    }

    public function has($name): bool
    {
        return $this->bound($name);
    }

    public function exists(string $abstract): bool
    {
        $abstract = $this->getAlias($abstract);
        return isset($this->instances[$abstract]);
    }

    public function get($abstract)
    {
        if ($this->has($abstract)) {
            return $this->make($abstract);
        }
        throw new \InvalidArgumentException('class not exists: ' . $abstract);
    }

    public function make(string $abstract, array $vars = [], bool $newInstance = false)
    {
        $abstract = $this->getAlias($abstract);
        if (isset($this->instances[$abstract]) && !$newInstance) {
            return $this->instances[$abstract];
        }
        if (isset($this->bind[$abstract]) && $this->bind[$abstract] instanceof Closure) {
            $object = $this->invokeFunction($this->bind[$abstract], $vars);
        } else {
            $object = $this->invokeClass($abstract, $vars);
        }
        if (!$newInstance) {
            $this->instances[$abstract] = $object;
        }
        return $object;
    }

    public function delete($name)
    {
        $name = $this->getAlias($name);
        if (isset($this->instances[$name])) {
            unset($this->instances[$name]);
        }
    }

    public function invokeFunction($function, array $vars = [])
    {
        $reflect = new ReflectionFunction($function);
        return $function(...$this->bindParams($reflect, $vars));
    }

    public function invokeMethod($method, array $vars = [])
    {
        [$class, $method] = is_array($method) ? $method : explode('::', $method);
        $instance = is_object($class) ? $class : $this->invokeClass($class);
        $reflect = new ReflectionMethod($instance, $method);
        return $reflect->invokeArgs($instance, $this->bindParams($reflect, $vars));
    }

    public function invoke($callable, array $vars = [])
    {
        if ($callable instanceof Closure) {
            return $this->invokeFunction($callable, $vars);
        }
        return $this->invokeMethod($callable, $vars);
    }

    public function invokeClass(string $class, array $vars = [])
    {
        $reflect = new ReflectionClass($class);
        if ($reflect->hasMethod('__make')) {
            $method = $reflect->getMethod('__make');
            if ($method->isPublic() && $method->isStatic()) {
                return $method->invokeArgs(null, $this->bindParams($method, $vars));
            }
        }
        $constructor = $reflect->getConstructor();
        $args = $constructor ? $this->bindParams($constructor, $vars) : [];
        return $reflect->newInstanceArgs($args);
    }

    protected function bindParams(ReflectionFunctionAbstract $reflect, array $vars = []): array
    {
        $args = [];
        foreach ($reflect->getParameters() as $param) {
            $name = $param->getName();
            $type = $param->getType();
            if ($type instanceof ReflectionNamedType && !$type->isBuiltin()) {
                $value = reset($vars);
                if ($value instanceof ($type->getName())) {
                    $args[] = array_shift($vars);
                } else {
                    $args[] = $this->make($type->getName());
                }
            } elseif (array_key_exists($name, $vars)) {
                $args[] = $vars[$name];
            } elseif (array_is_list($vars) && !empty($vars)) {
                $args[] = array_shift($vars);
            } elseif ($param->isDefaultValueAvailable()) {
                $args[] = $param->getDefaultValue();
            } else {
                throw new \InvalidArgumentException('method param miss:' . $name);
            }
        }
        return $args;
    }

    public function __set($name, $value)
    {
        $this->bind($name, $value);
    }

    public function __get($name)
    {
        return $this->get($name);
    }

    public function __isset($name): bool
    {
        return $this->exists($name);
    }

    public function __unset($name)
    {
        $this->delete($name);
    }

    public function offsetExists(mixed $key): bool
    {
        return $this->exists($key);
    }

    public function offsetGet(mixed $key): mixed
    {
        return $this->make($key);
    }

    public function offsetSet(mixed $key, mixed $value): void
    {
        $this->bind($key, $value);
    }

    public function offsetUnset(mixed $key): void
    {
        $this->delete($key);
    }
}
