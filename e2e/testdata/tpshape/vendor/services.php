<?php
// Services of Composer-installed libraries, as Composer's think plugin writes them.
return ['fixturelib\\AccessService'];
