<?php
// The admin app's own middleware (imported by PickApp into the 'app' queue).
return [
    \app\admin\middleware\AdminHeader::class,
];
