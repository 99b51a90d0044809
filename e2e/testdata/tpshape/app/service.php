<?php
return [
    \app\common\MultiAppService::class,
    \app\common\ApiModeService::class,
    \app\common\LicenseService::class,
];
