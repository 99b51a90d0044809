<?php
declare(strict_types=1);

namespace think;

/** An uploaded file; valid only when PHP's SAPI registered it (is_uploaded_file), as in ThinkPHP. */
class File extends \SplFileInfo
{
    public function __construct(string $path, protected bool $uploaded = true)
    {
        parent::__construct($path);
    }

    public function isValid(): bool
    {
        return $this->uploaded;
    }
}
