<?php
return [
    'with_route' => true,
    'default_timezone' => 'UTC',
];
