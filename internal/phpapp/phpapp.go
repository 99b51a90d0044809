// Package phpapp recognizes which PHP framework an app directory holds
// (ThinkPHP 6/8 today) and reads what thinkgate needs to know of it before
// any PHP runs. Serving it is the framework adapter's job (php/src).
package phpapp

import (
	"os"
	"path/filepath"
	"strings"
)

// IsThinkPHP reports whether dir is a ThinkPHP 6/8 project with its
// dependencies installed: the think console script, app/, public/ and the
// framework under vendor/.
func IsThinkPHP(dir string) bool {
	for _, p := range []string{"think", "app", "public", "vendor/topthink/framework"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// ThinkPHPDebug reports whether a ThinkPHP project's .env turns debug mode
// on (APP_DEBUG = true, or DEBUG = true in an [APP] section), which also
// turns on hot reload, as in php think run.
func ThinkPHPDebug(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		return false
	}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.ToUpper(strings.Trim(line, "[]")) + "_"
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section+strings.ToUpper(strings.TrimSpace(k)) != "APP_DEBUG" {
			continue
		}
		switch strings.ToLower(strings.Trim(strings.TrimSpace(v), `"'`)) {
		case "true", "1", "on", "yes":
			return true
		}
		return false
	}
	return false
}
