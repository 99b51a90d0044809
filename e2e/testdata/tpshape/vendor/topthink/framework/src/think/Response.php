<?php
declare(strict_types=1);

namespace think;

class Response
{
    protected $data;
    protected $contentType = 'text/html';
    protected $charset = 'utf-8';
    protected $code = 200;
    protected $header = [];
    protected $content = null;
    protected $cookie;
    protected $session;

    public function __construct(Cookie $cookie, $data = '', int $code = 200)
    {
        $this->cookie = $cookie;
        $this->data = $data;
        $this->code = $code;
        $this->contentType($this->contentType, $this->charset);
    }

    public static function create($data = '', string $type = 'html', int $code = 200): Response
    {
        $class = str_contains($type, '\\') ? $type : '\\think\\response\\' . ucfirst(strtolower($type));
        return Container::getInstance()->invokeClass($class, [$data, $code]);
    }

    public function setSession($session)
    {
        $this->session = $session;
        return $this;
    }

    public function send(): void
    {
        $data = $this->getContent();
        if (!headers_sent()) {
            http_response_code($this->code);
            foreach ($this->header as $name => $val) {
                header($name . (!is_null($val) ? ':' . $val : ''));
            }
        }
        $this->cookie->save();
        echo $data;
    }

    protected function output($data)
    {
        return $data;
    }

    public function data($data)
    {
        $this->data = $data;
        return $this;
    }

    public function header(array $header = [])
    {
        $this->header = array_merge($this->header, $header);
        return $this;
    }

    public function code(int $code)
    {
        $this->code = $code;
        return $this;
    }

    public function contentType(string $contentType, string $charset = 'utf-8')
    {
        $this->header['Content-Type'] = $contentType . '; charset=' . $charset;
        return $this;
    }

    public function getHeader(string $name = '')
    {
        return $name === '' ? $this->header : ($this->header[$name] ?? null);
    }

    public function getContent(): string
    {
        if (null == $this->content) {
            $this->content = (string)$this->output($this->data);
        }
        return $this->content;
    }

    public function getCode(): int
    {
        return $this->code;
    }
}
