package appserver

import (
	"path/filepath"
	"strings"
)

// staticTypes are the Content-Types php -S (and so `php think run`) sends
// for the files a web app serves, read off PHP 8.2's built-in server: a
// static file gets the same type under thinkgate whatever /etc/mime.types
// the machine has. Other extensions fall back to Go's mime package.
var staticTypes = map[string]string{
	".html": "text/html; charset=UTF-8", ".htm": "text/html; charset=UTF-8",
	".css": "text/css; charset=UTF-8", ".txt": "text/plain; charset=UTF-8", ".csv": "text/csv; charset=UTF-8",
	".md": "text/markdown; charset=UTF-8", ".yaml": "text/yaml; charset=UTF-8", ".yml": "text/yaml; charset=UTF-8",
	".js": "application/javascript", ".mjs": "application/javascript",
	".json": "application/json", ".map": "application/json", ".webmanifest": "application/manifest+json",
	".xml": "application/xml", ".wasm": "application/wasm", ".pdf": "application/pdf",
	".zip": "application/zip", ".gz": "application/gzip",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon",
	".bmp":  "image/bmp",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".eot": "application/vnd.ms-fontobject",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wave", ".mp4": "video/mp4", ".webm": "video/webm",
}

// staticType is the Content-Type php -S gives a file of this name, or "".
func staticType(name string) string {
	return staticTypes[strings.ToLower(filepath.Ext(name))]
}
