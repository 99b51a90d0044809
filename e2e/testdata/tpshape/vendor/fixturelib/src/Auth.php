<?php
declare(strict_types=1);

namespace fixturelib;

/** Helpers that reach the app through a static set at boot (static::$app = $this->app). */
class Auth
{
    public static $app;

    public static function user(): ?string
    {
        return static::$app->session->get('user');
    }

    public static function currentUrl(): string
    {
        return static::$app->request->url();
    }
}
