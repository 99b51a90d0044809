<?php
declare(strict_types=1);

namespace Thinkgate;

/** A frame that cannot be trusted; the worker must stop. */
final class ProtocolException extends \RuntimeException
{
}
