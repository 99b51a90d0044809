package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// node is a Target that records what the control server asked of it.
type node struct {
	mu       sync.Mutex
	stopped  []bool
	reloads  int
	clientsN int
}

func (n *node) Status() any { return map[string]int{"pid": os.Getpid()} }
func (n *node) Reload() ReloadReport {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reloads++
	return ReloadReport{Applied: []string{"php.workers"}, Reloaded: []string{"php workers"}}
}
func (n *node) Stop(graceful bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = append(n.stopped, graceful)
}
func (n *node) Connections(limit int, fn func(Connection) error) error {
	for i := range n.clientsN {
		if limit > 0 && i >= limit {
			break
		}
		if err := fn(Connection{ClientID: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

func TestControlSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tg.sock")
	c := NewClient(path)
	if err := c.Do(context.Background(), "GET", "/status", nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("nothing listening: %v, want ErrNotRunning", err)
	}
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := Listen(path); err == nil {
		t.Fatal("a second Listen on a socket that answers succeeded")
	}
	n := &node{clientsN: 5}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, ln, n) }()

	var st struct{ PID int }
	if err := c.Do(ctx, "GET", "/status", &st); err != nil || st.PID != os.Getpid() {
		t.Fatalf("status: %+v %v", st, err)
	}
	var rep ReloadReport
	if err := c.Do(ctx, "POST", "/reload", &rep); err != nil || rep.Applied[0] != "php.workers" || n.reloads != 1 {
		t.Fatalf("reload: %+v %v (reloads %d)", rep, err, n.reloads)
	}
	if err := c.Do(ctx, "GET", "/reload", nil); err == nil {
		t.Fatal("GET /reload was accepted; reload must be a POST")
	}
	for _, g := range []string{"", "?graceful=1"} {
		if err := c.Do(ctx, "POST", "/stop"+g, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(n.stopped) != 2 || n.stopped[0] || !n.stopped[1] {
		t.Fatalf("stops: %v, want [false true]", n.stopped)
	}
	body, err := c.Stream(ctx, "/connections?limit=3")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	k, _ := body.Read(b)
	body.Close()
	if lines := countLines(b[:k]); lines != 3 {
		t.Fatalf("connections?limit=3 gave %d lines: %s", lines, b[:k])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A socket file left by a process that is gone is replaced.
	os.WriteFile(path, nil, 0o600)
	ln, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a leftover file: %v", err)
	}
	ln.Close()
}

func countLines(b []byte) (n int) {
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

func TestPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "tg.pid")
	if _, err := ReadPid(path); !os.IsNotExist(err) {
		t.Fatalf("missing pid file: %v", err)
	}
	if err := WritePid(path); err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPid(path); err != nil || pid != os.Getpid() {
		t.Fatalf("ReadPid = %d, %v", pid, err)
	}
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	os.WriteFile(path, []byte("999999999\n"), 0o644)
	RemovePid(path) // names another process: left alone
	if _, err := os.Stat(path); err != nil {
		t.Fatal("RemovePid removed a pid file naming another process")
	}
	if Alive(999999999) {
		t.Fatal("pid 999999999 is alive")
	}
	os.WriteFile(path, []byte("garbage"), 0o644)
	if _, err := ReadPid(path); err == nil {
		t.Fatal("a pid file without a number was read")
	}
	WritePid(path)
	RemovePid(path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("RemovePid left our own pid file")
	}
}
