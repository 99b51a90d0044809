<?php
// The e2e app: the shared fixture (php/tests/fixture_app.php) as a plain thinkgate app.
return require __DIR__ . '/../../../php/tests/fixture_app.php';
