package config

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PidPath is the absolute path of the pid file: process.pid_file, else
// runtime/thinkgate.pid under php.app when that directory exists (a
// ThinkPHP project), else thinkgate.pid in php.app.
func (c *Config) PidPath() string {
	if c.Process.PidFile != "" {
		return abs(c.Process.PidFile)
	}
	runtimeDir := filepath.Join(c.PHP.App, "runtime")
	if st, err := os.Stat(runtimeDir); err == nil && st.IsDir() {
		return abs(filepath.Join(runtimeDir, "thinkgate.pid"))
	}
	return abs(filepath.Join(c.PHP.App, "thinkgate.pid"))
}

// maxSocketPath keeps the socket path inside sun_path (108 bytes on Linux,
// 104 on the BSDs).
const maxSocketPath = 100

// SocketPath is the absolute path of the control socket:
// process.control_socket, else the pid file's path ending in .sock. A path
// too long for a unix socket moves to the temp directory under a name
// derived from it, so every command finds the same one.
func (c *Config) SocketPath() string {
	p := c.Process.ControlSocket
	if p == "" {
		p = strings.TrimSuffix(c.PidPath(), ".pid") + ".sock"
	}
	p = abs(p)
	if len(p) > maxSocketPath {
		sum := sha256.Sum256([]byte(p))
		p = filepath.Join(os.TempDir(), fmt.Sprintf("thinkgate-%x.sock", sum[:8]))
	}
	return p
}

// DaemonLogPath is where a daemon logs: log.file, else thinkgate.log beside
// the pid file.
func (c *Config) DaemonLogPath() string {
	if c.Log.File != "" {
		return abs(c.Log.File)
	}
	return filepath.Join(filepath.Dir(c.PidPath()), "thinkgate.log")
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
