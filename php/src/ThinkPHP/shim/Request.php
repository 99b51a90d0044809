<?php
declare(strict_types=1);

namespace think;

use Thinkgate\ThinkPHP\Adapter;

/**
 * think\Request as a thinkgate worker serves it (ThinkPHP's own is
 * ThinkgateBaseRequest, see Thinkgate\ThinkPHP\Shim): a web request, not a
 * console one, and uploads that work under php-cli, where is_uploaded_file()
 * knows no file: they are test-mode UploadedFiles, moved with rename().
 * The app's own request class (app\Request) extends this one.
 */
class Request extends ThinkgateBaseRequest
{
    public function isCli(): bool
    {
        return false;
    }

    protected function dealUploadFile(array $files, string $name): array
    {
        return Adapter::uploadedFiles($this, $files, $name);
    }

    /** @internal throws ThinkPHP's exception for an upload error code. */
    public function thinkgateUploadError(int $code): void
    {
        $this->throwUploadFileError($code);
    }
}
