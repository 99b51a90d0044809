// Package testenv finds the real programs tests drive (php-cli, chromium,
// redis-server, nats-server) and starts the servers among them:
// a test without one is skipped on a developer's machine and fails under CI,
// where scripts/test installs them.
package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Need returns the path of the first of names found on PATH. Without any it
// skips the test, or fails it when CI is set.
func Need(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; scripts/test must install it", names[0])
	}
	t.Skipf("%s not installed (scripts/test installs it)", names[0])
	return ""
}

// PHP returns php-cli's path (see Need).
func PHP(t testing.TB) string { return Need(t, "php") }

// Server is a real redis-server or nats-server a test started on a free
// loopback port; it is stopped when the test ends.
type Server struct {
	t    testing.TB
	bin  string
	args []string
	// Addr is host:port; URL is the client URL (redis://... or nats://...).
	Addr, URL string
	cmd       *exec.Cmd
	ready     func(net.Conn) error
}

// Redis starts redis-server without persistence (see Need).
func Redis(t testing.TB) *Server {
	bin := Need(t, "redis-server", "/usr/bin/redis-server")
	port := freePort(t)
	s := &Server{t: t, bin: bin, Addr: net.JoinHostPort("127.0.0.1", port), URL: "redis://127.0.0.1:" + port + "/0",
		args: []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"},
		ready: func(c net.Conn) error {
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				return err
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && line != "+PONG\r\n" {
				err = fmt.Errorf("redis answered %q", line)
			}
			return err
		}}
	s.Start()
	return s
}

// NATS starts nats-server (see Need).
func NATS(t testing.TB) *Server {
	bin := Need(t, "nats-server", "/usr/sbin/nats-server")
	port := freePort(t)
	s := &Server{t: t, bin: bin, Addr: net.JoinHostPort("127.0.0.1", port), URL: "nats://127.0.0.1:" + port,
		args: []string{"-a", "127.0.0.1", "-p", port},
		ready: func(c net.Conn) error {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && !strings.HasPrefix(line, "INFO ") {
				err = fmt.Errorf("nats answered %q", line)
			}
			return err
		}}
	s.Start()
	return s
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// Start (re)starts the server on its port and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	// Their output (startup banners, warnings) is not the test's business.
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", s.bin, err)
	}
	cmd := s.cmd
	s.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			err = s.ready(c)
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not start on %s: %v", s.bin, s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}
