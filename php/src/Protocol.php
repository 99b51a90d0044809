<?php
declare(strict_types=1);

namespace Thinkgate;

/**
 * The frame protocol between thinkgate (Go) and its PHP workers, over two
 * pipes: fd 3 carries frames from Go, fd 4 frames to Go. stdout and stderr
 * are only logs, so stray output can never corrupt a frame.
 *
 * Header, little-endian: version(1) type(1) flags(2) meta_len(4) body_len(4)
 * crc32(4) of the first 12 bytes; then meta (JSON), then body (raw bytes).
 */
final class Protocol
{
    public const VERSION = 1;
    public const HEADER_LEN = 16;

    // Go to PHP.
    public const REQUEST = 1;
    public const WS_EVENT = 2;
    public const CANCEL = 3;
    public const STOP = 4;
    public const PING = 5;
    public const PUSH_OK = 6;
    // PHP to Go.
    public const READY = 16;
    public const RESPONSE = 17;
    public const RESP_HEAD = 18;
    public const RESP_CHUNK = 19;
    public const RESP_END = 20;
    public const RESP_FILE = 21;
    public const PUSH = 22;
    public const ERROR = 23;
    public const PONG = 24;
    public const LOG = 25;

    public const FLAG_RECYCLE = 1;
    public const FLAG_MORE = 2;

    public const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE;

    /** Encodes one frame. */
    public static function encode(int $type, int $flags = 0, string $meta = '', string $body = ''): string
    {
        $head = pack('CCvVV', self::VERSION, $type, $flags, strlen($meta), strlen($body));
        return $head . pack('V', crc32($head)) . $meta . $body;
    }

    /** Writes one frame completely, or throws. */
    public static function write($stream, int $type, int $flags = 0, string $meta = '', string $body = ''): void
    {
        $data = self::encode($type, $flags, $meta, $body);
        for ($off = 0, $len = strlen($data); $off < $len; $off += $n) {
            $n = @fwrite($stream, $off === 0 ? $data : substr($data, $off));
            if ($n === false || $n === 0) {
                throw new ProtocolException('write to thinkgate failed');
            }
        }
        fflush($stream);
    }

    /**
     * Reads one frame as [type, flags, meta, body]; null when the stream
     * ended cleanly between frames. Throws ProtocolException on a bad frame.
     */
    public static function read($stream, int $maxMeta = 16 << 20, int $maxBody = 64 << 20): ?array
    {
        $head = self::readN($stream, self::HEADER_LEN, true);
        if ($head === null) {
            return null;
        }
        $h = unpack('Cversion/Ctype/vflags/Vmeta/Vbody/Vcrc', $head);
        if ($h['crc'] !== crc32(substr($head, 0, 12))) {
            throw new ProtocolException('frame header CRC mismatch');
        }
        if ($h['version'] !== self::VERSION) {
            throw new ProtocolException("frame version {$h['version']}, want " . self::VERSION);
        }
        if ($h['meta'] > $maxMeta || $h['body'] > $maxBody) {
            throw new ProtocolException("frame of {$h['meta']}+{$h['body']} bytes over the limits");
        }
        $meta = $h['meta'] > 0 ? self::readN($stream, $h['meta'], false) : '';
        $body = $h['body'] > 0 ? self::readN($stream, $h['body'], false) : '';
        return [$h['type'], $h['flags'], $meta, $body];
    }

    private static function readN($stream, int $n, bool $eofOk): ?string
    {
        $buf = '';
        while (strlen($buf) < $n) {
            $chunk = fread($stream, $n - strlen($buf));
            if ($chunk === false || $chunk === '') {
                if (feof($stream)) {
                    if ($eofOk && $buf === '') {
                        return null;
                    }
                    throw new ProtocolException('stream ended inside a frame');
                }
                continue;
            }
            $buf .= $chunk;
        }
        return $buf;
    }
}
