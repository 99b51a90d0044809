<?php
return ['welcome' => '欢迎'];
