package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiffAndApplyLive(t *testing.T) {
	old, next := Default(), Default()
	next.PHP.Workers = 4           // live
	next.Heartbeat.Reply = "pong"  // live
	next.WS.Listen = "127.0.0.1:1" // needs a restart
	next.Log.Format = "json"       // needs a restart
	next.Process.StopTimeout = Duration{time.Second}
	live, restart := Diff(&old, &next)
	if want := []string{"heartbeat.reply", "php.workers", "process.stop_timeout"}; !slices.Equal(sorted(live), want) {
		t.Errorf("live = %v, want %v", live, want)
	}
	if want := []string{"log.format", "ws.listen"}; !slices.Equal(sorted(restart), want) {
		t.Errorf("restart = %v, want %v", restart, want)
	}
	ApplyLive(&old, &next)
	if old.PHP.Workers != 4 || old.Heartbeat.Reply != "pong" || old.Process.StopTimeout.Duration != time.Second {
		t.Errorf("live keys not applied: %+v", old)
	}
	if old.WS.Listen != Default().WS.Listen || old.Log.Format != "text" {
		t.Errorf("restart keys changed by ApplyLive: ws.listen %q, log.format %q", old.WS.Listen, old.Log.Format)
	}
	if l, r := Diff(&next, &next); len(l)+len(r) != 0 {
		t.Errorf("a config differs from itself: %v %v", l, r)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestFilePaths(t *testing.T) {
	plain := t.TempDir()
	tp := t.TempDir()
	os.Mkdir(filepath.Join(tp, "runtime"), 0o755)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	tests := []struct {
		name           string
		cfg            func(*Config)
		pid, sock, log string
	}{
		{"plain app dir", func(c *Config) { c.PHP.App = plain },
			filepath.Join(plain, "thinkgate.pid"), filepath.Join(plain, "thinkgate.sock"), filepath.Join(plain, "thinkgate.log")},
		{"ThinkPHP runtime/", func(c *Config) { c.PHP.App = tp },
			filepath.Join(tp, "runtime", "thinkgate.pid"), filepath.Join(tp, "runtime", "thinkgate.sock"), filepath.Join(tp, "runtime", "thinkgate.log")},
		{"configured", func(c *Config) {
			c.Process.PidFile, c.Process.ControlSocket, c.Log.File = "/run/tg/x.pid", "/run/tg/ctl", "/var/log/tg.log"
		}, "/run/tg/x.pid", "/run/tg/ctl", "/var/log/tg.log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.cfg(&c)
			if got := c.PidPath(); got != tc.pid {
				t.Errorf("PidPath = %s, want %s", got, tc.pid)
			}
			if got := c.SocketPath(); got != tc.sock {
				t.Errorf("SocketPath = %s, want %s", got, tc.sock)
			}
			if got := c.DaemonLogPath(); got != tc.log {
				t.Errorf("DaemonLogPath = %s, want %s", got, tc.log)
			}
		})
	}
	c := Default()
	c.Process.PidFile = filepath.Join(long, "thinkgate.pid")
	sock := c.SocketPath()
	if len(sock) > maxSocketPath || filepath.Dir(sock) != filepath.Clean(os.TempDir()) || sock != c.SocketPath() {
		t.Errorf("a too-long socket path became %q; want a stable short name in the temp dir", sock)
	}
}
