<?php
// A handler that does nothing: thinkgate's Go<->PHP hop cost alone.
return fn () => '';
