// Package js holds thinkgate.js, the browser client, which the binary
// serves on the ws listener: /thinkgate.js (UMD: a plain <script> gets a
// global Thinkgate, require() and AMD work too), /thinkgate.mjs (the ES
// module, the source) and /thinkgate.d.ts (TypeScript declarations).
//
//go:generate go run ./gen
package js

import (
	_ "embed"
	"strings"
)

//go:embed thinkgate.mjs
var module string

//go:embed thinkgate.js
var umd string

//go:embed thinkgate.d.ts
var declarations string

// exportLine ends the module: the UMD build returns Thinkgate instead.
const exportLine = "export { Thinkgate as default, Thinkgate };\n"

// UMD builds the UMD file from the module source.
func UMD(src string) string {
	body := strings.Replace(src, exportLine, "return Thinkgate;\n", 1)
	return "// Generated from thinkgate.mjs by go generate ./js: edit that file, not this one.\n" +
		"(function (root, factory) {\n" +
		"  if (typeof define === 'function' && define.amd) define([], factory);\n" +
		"  else if (typeof module === 'object' && module.exports) module.exports = factory();\n" +
		"  else root.Thinkgate = factory();\n" +
		"})(typeof self !== 'undefined' ? self : this, function () {\n" +
		body +
		"});\n"
}

// Module is thinkgate.mjs, the source.
func Module() string { return module }

// File returns a file the ws listener serves at path, with its type.
func File(path string) (body, contentType string, ok bool) {
	switch path {
	case "/thinkgate.js":
		return umd, "text/javascript; charset=utf-8", true
	case "/thinkgate.mjs":
		return module, "text/javascript; charset=utf-8", true
	case "/thinkgate.d.ts":
		return declarations, "text/plain; charset=utf-8", true
	}
	return "", "", false
}
