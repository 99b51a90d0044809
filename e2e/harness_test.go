// Package e2e starts the real thinkgate binary (built with the race
// detector) and drives it over loopback with real WebSocket clients, HTTP
// requests, Text port connections and php-cli, asserting what a user sees.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"thinkgate/internal/wsclient"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thinkgate-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "thinkgate")
	// Built with the race detector, except for benchmarks that ask not to
	// (E2E_RACE=0), whose figures the detector would distort.
	args := []string{"build", "-race", "-o", binary, "../cmd/thinkgate"}
	if os.Getenv("E2E_RACE") == "0" {
		args = []string{"build", "-o", binary, "../cmd/thinkgate"}
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building thinkgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running thinkgate process.
type server struct {
	t     testing.TB
	cmd   *exec.Cmd
	addrs map[string]string // listener name -> host:port
	mu    sync.Mutex
	log   bytes.Buffer
	exit  chan error
	// pidFile is the instance's pid file; the verbs find it through it.
	pidFile string
}

// baseConfig binds every listener to a free loopback port.
const baseConfig = `
[ws]
listen = "127.0.0.1:0"
[api]
listen = "127.0.0.1:0"
[text]
listen = "127.0.0.1:0"
[gwcompat]
register = "127.0.0.1:0"
inner = "127.0.0.1:0"
[log]
format = "json"
level = "debug"
`

// start runs thinkgate with baseConfig plus extra (TOML appended; later keys
// of the same table must be given with dotted names, e.g. ws.init_message = false).
func start(t testing.TB, extra string) *server {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	if err := os.WriteFile(cfg, []byte(mergeTOML(baseConfig, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return startFile(t, cfg)
}

// startFile runs thinkgate with the config file at path; logs are forced to
// JSON so the harness can read the listening addresses.
func startFile(t testing.TB, path string) *server {
	t.Helper()
	return startWrapped(t, path)
}

// startWrapped runs thinkgate with the config file at path, as the last
// arguments of wrapper when one is given (e.g. a shell that sets ulimit).
func startWrapped(t testing.TB, path string, wrapper ...string) *server {
	t.Helper()
	s := &server{t: t, addrs: map[string]string{}, exit: make(chan error, 1), pidFile: filepath.Join(t.TempDir(), "thinkgate.pid")}
	argv := append(wrapper, binary, "start", "-c", path)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	// Each instance gets its own pid file and control socket.
	s.cmd.Env = append(os.Environ(), "THINKGATE_LOG_FORMAT=json", "THINKGATE_PROCESS_PID_FILE="+s.pidFile)
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			var rec struct{ Msg, Listener, Addr string }
			json.Unmarshal([]byte(line), &rec)
			if rec.Msg == "listening" {
				s.addrs[rec.Listener] = rec.Addr
			}
			s.mu.Unlock()
			if rec.Msg == "thinkgate started" {
				once.Do(func() { close(started) })
			}
		}
		s.exit <- s.cmd.Wait()
	}()
	select {
	case <-started:
	case err := <-s.exit:
		t.Fatalf("thinkgate exited at start: %v\n%s", err, s.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("thinkgate did not start\n%s", s.logs())
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exit:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
		}
		if strings.Contains(s.logs(), "WARNING: DATA RACE") {
			t.Errorf("the server hit a data race:\n%s", s.logs())
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs())
		}
	})
	return s
}

// mergeTOML appends extra's keys into base's tables so tests can override defaults.
func mergeTOML(base, extra string) string {
	tables := map[string][]string{}
	order := []string{}
	add := func(src string) {
		cur := ""
		for _, line := range strings.Split(src, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if strings.HasPrefix(line, "[") {
				cur = strings.Trim(line, "[]")
				if _, ok := tables[cur]; !ok {
					order = append(order, cur)
					tables[cur] = nil
				}
				continue
			}
			key := strings.TrimSpace(strings.SplitN(line, "=", 2)[0])
			kept := tables[cur][:0]
			for _, l := range tables[cur] {
				if strings.TrimSpace(strings.SplitN(l, "=", 2)[0]) != key {
					kept = append(kept, l)
				}
			}
			tables[cur] = append(kept, line)
		}
	}
	add(base)
	add(extra)
	var b strings.Builder
	for _, tb := range order {
		fmt.Fprintf(&b, "[%s]\n%s\n", tb, strings.Join(tables[tb], "\n"))
	}
	return b.String()
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *server) addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// call runs an API operation and returns the decoded "result".
func (s *server) call(method string, params any) any {
	s.t.Helper()
	status, body := s.post("/api/"+method, params, "")
	if status != 200 {
		s.t.Fatalf("%s: HTTP %d %s", method, status, body)
	}
	var out struct{ Result any }
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatalf("%s: %v in %s", method, err, body)
	}
	return out.Result
}

func (s *server) post(path string, body any, key string) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest("POST", "http://"+s.addr("api")+path, r)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// client is one real WebSocket client.
type client struct {
	*wsclient.Conn
	t  testing.TB
	ID string
}

var clientIDPattern = regexp.MustCompile(`^[0-9a-f]{20}$`)

// dial connects a client and reads its init message.
func (s *server) dial() *client {
	s.t.Helper()
	return s.dialPath("/", nil)
}

// dialPath connects to path with extra handshake headers and reads the init message.
func (s *server) dialPath(path string, h http.Header) *client {
	s.t.Helper()
	c := s.connect(path, h)
	msg := c.read()
	var init struct {
		Type     string
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(msg), &init); err != nil || init.Type != "init" || !clientIDPattern.MatchString(init.ClientID) {
		s.t.Fatalf("first message %q is not an init with a 20-hex client_id", msg)
	}
	c.ID = init.ClientID
	return c
}

// dialRaw connects without reading anything.
func (s *server) dialRaw() *client { return s.connect("/", nil) }

func (s *server) connect(path string, h http.Header) *client {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsclient.DialHeader(ctx, "ws://"+s.addr("ws")+path, nil, h)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &client{Conn: c, t: s.t}
}

// read returns the next message, failing the test after 5 s.
func (c *client) read() string {
	c.t.Helper()
	m, err := c.ReadText(5 * time.Second)
	if err != nil {
		c.t.Fatalf("client %s: no message: %v", c.ID, err)
	}
	return m
}

// silent asserts that no message arrives within d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	if m, err := c.ReadText(d); err == nil {
		c.t.Fatalf("client %s got unexpected %q", c.ID, m)
	}
}

// execOut runs a command and returns its combined output.
func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
