<?php
declare(strict_types=1);

namespace think;

class Lang
{
    protected $range = 'zh-cn';
    protected $lang = [];

    public function __construct(protected App $app)
    {
    }

    public function defaultLangSet()
    {
        return $this->app->config->get('lang.default_lang', 'zh-cn');
    }

    public function switchLangSet(string $langset)
    {
        $this->range = $langset;
    }

    public function load($file, $range = ''): array
    {
        $range = $range ?: $this->range;
        foreach ((array)$file as $f) {
            $this->lang[$range] = array_merge($this->lang[$range] ?? [], include $f);
        }
        return $this->lang[$range] ?? [];
    }

    public function get(string $name = '')
    {
        return $this->lang[$this->range][$name] ?? $name;
    }

    public function getLangSet(): string
    {
        return $this->range;
    }
}
