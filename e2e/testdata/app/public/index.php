<?php echo "source";
