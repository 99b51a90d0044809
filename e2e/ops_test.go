package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The operations verbs on a real daemon: start -d, status, connections,
// reload, stop, restart, and their answers when nothing (or something
// stale) is there.

// instanceDir is a project directory for one daemon: a config file, a
// runtime/ directory (so the pid file, socket and log land there, as in a
// ThinkPHP project) and the e2e PHP app as the entry.
type instanceDir struct {
	t    *testing.T
	dir  string
	base string // the config every write starts from
}

func newInstanceDir(t *testing.T, extra string) *instanceDir {
	t.Helper()
	needPHP(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "runtime"), 0o755)
	entry, _ := filepath.Abs("testdata/app/app.php")
	d := &instanceDir{t: t, dir: dir}
	d.base = mergeTOML(baseConfig, fmt.Sprintf("[log]\nformat = \"text\"\nlevel = \"info\"\n[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = %q\nworkers = 1\n%s", dir, entry, extra))
	d.write("")
	t.Cleanup(d.kill)
	return d
}

func (d *instanceDir) write(extra string) {
	d.t.Helper()
	cfg := mergeTOML(d.base, extra)
	if err := os.WriteFile(filepath.Join(d.dir, "thinkgate.toml"), []byte(cfg), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *instanceDir) path(name string) string { return filepath.Join(d.dir, name) }

// run runs one thinkgate command in the project directory.
func (d *instanceDir) run(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(binary, append(args, "-c", d.path("thinkgate.toml"))...)
	cmd.Dir = d.dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		d.t.Fatalf("thinkgate %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// must runs a command that has to succeed and returns its output.
func (d *instanceDir) must(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run(args...)
	if code != 0 {
		d.t.Fatalf("thinkgate %v: exit %d\nstdout: %s\nstderr: %s\nlog:\n%s", args, code, out, errOut, d.log())
	}
	return out
}

func (d *instanceDir) log() string {
	b, _ := os.ReadFile(d.path("runtime/thinkgate.log"))
	return string(b)
}

func (d *instanceDir) pid() int {
	b, err := os.ReadFile(d.path("runtime/thinkgate.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// kill makes sure no daemon outlives the test, and fails it on a data race
// in any daemon's log.
func (d *instanceDir) kill() {
	if pid := d.pid(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if strings.Contains(d.log(), "WARNING: DATA RACE") {
		d.t.Errorf("a daemon hit a data race:\n%s", d.log())
	}
}

// status is `thinkgate status --json`, decoded.
type statusJSON struct {
	PID       int `json:"pid"`
	Clients   int `json:"clients"`
	UIDs      int `json:"uids"`
	Groups    int `json:"groups"`
	Listeners map[string]struct {
		Addr string `json:"addr"`
		PHP  *struct {
			Workers int `json:"workers"`
			Gen     int `json:"generation"`
			Procs   []struct {
				PID   int    `json:"pid"`
				State string `json:"state"`
			} `json:"processes"`
		} `json:"php"`
	} `json:"listeners"`
}

func (d *instanceDir) status() statusJSON {
	d.t.Helper()
	var s statusJSON
	out := d.must("status", "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		d.t.Fatalf("status --json: %v in %q", err, out)
	}
	return s
}

// server returns a harness server for the daemon's listeners.
func (d *instanceDir) server() *server {
	s := &server{t: d.t, addrs: map[string]string{}}
	for name, l := range d.status().Listeners {
		s.addrs[name] = l.Addr
	}
	return s
}

func TestDaemonLifecycle(t *testing.T) {
	d := newInstanceDir(t, "")

	// Nothing running yet.
	if _, errOut, code := d.run("status"); code != 4 || !strings.Contains(errOut, "not running") {
		t.Fatalf("status with nothing running: exit %d, %q; want 4 and 'not running'", code, errOut)
	}
	if _, errOut, code := d.run("stop"); code != 4 || !strings.Contains(errOut, "not running") {
		t.Fatalf("stop with nothing running: exit %d, %q; want 4", code, errOut)
	}

	out := d.must("start", "-d")
	pid := d.pid()
	if pid == 0 || !strings.Contains(out, fmt.Sprintf("pid %d", pid)) {
		t.Fatalf("start -d said %q; pid file holds %d", out, pid)
	}
	if pid == os.Getpid() || !running(pid) {
		t.Fatalf("pid %d from the pid file is not a running process", pid)
	}
	if st, err := os.Stat(d.path("runtime/thinkgate.sock")); err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v; want a socket with mode 0600", err, st.Mode())
	}
	if _, errOut, code := d.run("start", "-d"); code != 3 || !strings.Contains(errOut, fmt.Sprintf("already running (pid %d", pid)) {
		t.Fatalf("second start: exit %d, %q; want 3 and 'already running (pid %d'", code, errOut, pid)
	}
	if _, errOut, code := d.run("start"); code != 3 {
		t.Fatalf("second start in the foreground: exit %d, %q; want 3", code, errOut)
	}

	s := d.server()
	// The app answers, and the daemon's status table shows it.
	if _, body := get(t, "http://"+s.addr("http")+"/hello"); !strings.Contains(body, "hello") {
		t.Fatalf("GET /hello through the daemon: %q", body)
	}
	table := d.must("status")
	for _, want := range []string{fmt.Sprintf("pid %d", pid), "connections 0", "ws ", "http ", "PHP workers: 1", "PID", "RSS", "UPTIME"} {
		if !strings.Contains(table, want) {
			t.Errorf("status table lacks %q:\n%s", want, table)
		}
	}

	// connections lists every client with its uid and groups.
	a, b := s.dial(), s.dial()
	s.call("bindUid", map[string]any{"client_id": a.ID, "uid": "alice"})
	s.call("joinGroup", map[string]any{"client_id": a.ID, "group": "room1"})
	list := d.must("connections")
	if !strings.Contains(list, a.ID) || !strings.Contains(list, b.ID) || !strings.Contains(list, "alice") || !strings.Contains(list, "room1") || !strings.Contains(list, "2 connections") {
		t.Fatalf("connections:\n%s", list)
	}
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(d.must("connections", "--json", "--limit", "1")))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("connections --json: %v", err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 1 || rows[0]["client_id"] != a.ID || rows[0]["uid"] != "alice" || !strings.HasPrefix(rows[0]["remote"].(string), "127.0.0.1:") {
		t.Fatalf("connections --json --limit 1: %v; want the first client, alice", rows)
	}

	// stop --graceful lets a request in flight finish, then closes clients with 1001.
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.addr("http") + "/sleep?ms=1500")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		var sb strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&sb)
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, sb.String())
	}()
	waitUntil(t, "the slow request to reach PHP", func() bool {
		st := d.status()
		return len(st.Listeners["http"].PHP.Procs) == 1 && st.Listeners["http"].PHP.Procs[0].State == "busy"
	})
	out = d.must("stop", "--graceful")
	if !strings.Contains(out, fmt.Sprintf("stopped gracefully (pid %d)", pid)) {
		t.Fatalf("stop --graceful said %q", out)
	}
	if got := <-slow; got != "200 slept" {
		t.Fatalf("the request in flight during stop --graceful got %q; want 200 slept", got)
	}
	if f, err := a.ReadFrame(5 * time.Second); err != nil || f.Op != ws.OpClose || f.CloseCode() != 1001 {
		t.Fatalf("client after stop: %+v %v; want close 1001", f, err)
	}
	if running(pid) {
		t.Fatalf("pid %d still runs after stop returned", pid)
	}
	if _, err := os.Stat(d.path("runtime/thinkgate.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file left after stop: %v", err)
	}
	if _, errOut, code := d.run("stop"); code != 4 {
		t.Fatalf("stop twice: exit %d, %q; want 4", code, errOut)
	}

	// A stale pid file (a process that is gone): the verbs say so with
	// status 5 and remove it; start carries on.
	os.WriteFile(d.path("runtime/thinkgate.pid"), []byte("999999\n"), 0o644)
	if _, errOut, code := d.run("status"); code != 5 || !strings.Contains(errOut, "stale pid file") {
		t.Fatalf("status with a stale pid file: exit %d, %q; want 5 and 'stale pid file'", code, errOut)
	}
	if _, err := os.Stat(d.path("runtime/thinkgate.pid")); !os.IsNotExist(err) {
		t.Fatal("the stale pid file was not removed")
	}
	os.WriteFile(d.path("runtime/thinkgate.pid"), []byte("999999\n"), 0o644)
	if _, errOut, code := d.run("reload"); code != 5 {
		t.Fatalf("reload with a stale pid file: exit %d, %q; want 5", code, errOut)
	}
	os.WriteFile(d.path("runtime/thinkgate.pid"), []byte("999999\n"), 0o644)
	_, errOut, code := d.run("start", "-d")
	if code != 0 || !strings.Contains(errOut, "stale pid file") {
		t.Fatalf("start over a stale pid file: exit %d, %q; want 0 and a note about the stale file", code, errOut)
	}

	// restart: a new process; clients of the old one are told 1001 and can reconnect.
	old := d.pid()
	s = d.server()
	c := s.dial()
	out = d.must("restart", "-d")
	if !strings.Contains(out, "reconnect") || d.pid() == old || d.pid() == 0 {
		t.Fatalf("restart said %q; pid %d -> %d", out, old, d.pid())
	}
	if f, err := c.ReadFrame(5 * time.Second); err != nil || f.Op != ws.OpClose || f.CloseCode() != 1001 {
		t.Fatalf("client of the old process after restart: %+v %v; want close 1001", f, err)
	}
	if st := d.status(); st.PID != d.pid() {
		t.Fatalf("status answers for pid %d, pid file says %d", st.PID, d.pid())
	}
	d.server().dial()
	d.must("stop")
}

// TestReloadKeepsClients: 200 WebSocket clients stay connected and keep
// receiving every message while reload re-reads the config, rotates the
// log file and rolls the PHP workers.
func TestReloadKeepsClients(t *testing.T) {
	d := newInstanceDir(t, "")
	d.must("start", "-d")
	s := d.server()
	before := d.status().Listeners["http"].PHP

	const n = 200
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = s.dial()
	}
	// The heartbeat reply is off: a "ping" gets nothing back yet.
	clients[0].WriteText("ping")
	clients[0].silent(300 * time.Millisecond)

	// Push a numbered message to everyone every 5 ms while the reload runs.
	stopPush := make(chan struct{})
	pushed := make(chan int, 1)
	go func() {
		i := 0
		defer func() { pushed <- i }()
		for {
			select {
			case <-stopPush:
				return
			default:
			}
			i++
			s.call("sendToAll", map[string]any{"data": strconv.Itoa(i)})
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// Change live keys and one that needs a restart; move the log away as logrotate does.
	d.write("[php]\nworkers = 2\n[heartbeat]\nreply = \"pong\"\n[log]\nlevel = \"debug\"\naccess = true\n[ws]\ninit_message = false")
	if err := os.Rename(d.path("runtime/thinkgate.log"), d.path("runtime/thinkgate.log.1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	out := d.must("reload")
	time.Sleep(100 * time.Millisecond)
	close(stopPush)
	last := <-pushed

	for _, want := range []string{"no WebSocket client was disconnected", "php workers", "log file", "php.workers", "heartbeat.reply", "log.level", "log.access", "needs a restart: ws.init_message"} {
		if !strings.Contains(out, want) {
			t.Errorf("reload output lacks %q:\n%s", want, out)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := 1; want <= last; want++ {
				m, err := c.ReadText(10 * time.Second)
				if err != nil || m != strconv.Itoa(want) {
					errs <- fmt.Errorf("client %d: message %d: got %q, %v", i, want, m, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if last < 10 {
		t.Fatalf("only %d pushes went out around the reload; the test proves nothing", last)
	}
	// Every client is still there, and the new heartbeat reply is in force on old connections.
	if st := d.status(); st.Clients != n {
		t.Fatalf("%d clients after reload, want %d", st.Clients, n)
	}
	clients[0].WriteText("ping")
	if m := clients[0].read(); m != "pong" {
		t.Fatalf("ping after reload got %q, want pong (heartbeat.reply applied live)", m)
	}
	after := d.status().Listeners["http"].PHP
	if after.Workers != 2 || after.Gen != before.Gen+1 {
		t.Fatalf("PHP workers after reload: %d of generation %d; want 2 of generation %d", after.Workers, after.Gen, before.Gen+1)
	}
	for _, p := range after.Procs {
		for _, q := range before.Procs {
			if p.PID == q.PID {
				t.Fatalf("worker pid %d survived the reload", p.PID)
			}
		}
	}
	// The log went to a fresh file; the access log is on; the old file keeps what came before.
	get(t, "http://"+s.addr("http")+"/hello")
	waitUntil(t, "an access line in the new log file", func() bool {
		return strings.Contains(d.log(), `msg=access`) && strings.Contains(d.log(), `uri=/hello`)
	})
	if !strings.Contains(d.log(), "msg=reloaded") {
		t.Fatalf("the new log file lacks the reload line:\n%s", d.log())
	}
	if old, _ := os.ReadFile(d.path("runtime/thinkgate.log.1")); !strings.Contains(string(old), "thinkgate started") {
		t.Fatalf("the rotated log lost its lines:\n%s", old)
	}
	// A new client after reload still gets the init message: ws.init_message needs a restart.
	s.dial()
	d.must("stop")
}

// TestReloadSignals: SIGUSR1 and SIGUSR2 reload like the verb; SIGQUIT
// stops gracefully; SIGINT stops at once.
func TestReloadSignals(t *testing.T) {
	d := newInstanceDir(t, "")
	d.must("start", "-d")
	pid := d.pid()
	gen := d.status().Listeners["http"].PHP.Gen
	for i, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
		syscall.Kill(pid, sig)
		waitUntil(t, sig.String()+" to roll the PHP workers", func() bool {
			return d.status().Listeners["http"].PHP.Gen == gen+i+1
		})
	}
	slow := d.slowRequest(1000)
	syscall.Kill(pid, syscall.SIGQUIT)
	if code := <-slow; code != 200 {
		t.Fatalf("request in flight during SIGQUIT: status %d, want 200", code)
	}
	waitUntil(t, "the daemon to exit after SIGQUIT", func() bool { return !running(pid) })

	d.must("start", "-d")
	pid = d.pid()
	slow = d.slowRequest(3000)
	syscall.Kill(pid, syscall.SIGINT)
	if code := <-slow; code == 200 {
		t.Fatal("a request in flight survived SIGINT (fast stop): it was waited for")
	}
	waitUntil(t, "the daemon to exit after SIGINT", func() bool { return !running(pid) })
}

// slowRequest sends GET /sleep?ms=ms to the daemon's app and returns, once
// a PHP worker is busy with it, a channel that gets its status (0 when the
// request failed).
func (d *instanceDir) slowRequest(ms int) <-chan int {
	d.t.Helper()
	s := d.server()
	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/sleep?ms=%d", s.addr("http"), ms))
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	waitUntil(d.t, "the slow request to reach PHP", func() bool {
		for _, p := range d.status().Listeners["http"].PHP.Procs {
			if p.State == "busy" {
				return true
			}
		}
		return false
	})
	return slow
}

// running reports whether pid is a live process: not gone and not a zombie
// (this sandbox's init does not reap the daemons it inherits).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadKeepsKeysOffLoopback: a reload that empties api.key and
// text.key while moving their listeners back to loopback (which needs a
// restart) keeps the old keys in force, and says so: the listeners are
// still bound to every interface until the restart.
func TestReloadKeepsKeysOffLoopback(t *testing.T) {
	d := newInstanceDir(t, "[api]\nlisten = \"0.0.0.0:0\"\nkey = \"k1\"\n[text]\nlisten = \"0.0.0.0:0\"\nkey = \"k1\"\n"+
		"[gwcompat]\nregister = \"0.0.0.0:0\"\nsecret = \"s1\"\n")
	d.must("start", "-d")
	s := d.server()
	local := func(name string) string { // the listener, reached over loopback
		_, port, _ := net.SplitHostPort(s.addr(name))
		return "127.0.0.1:" + port
	}
	s.addrs["api"] = local("api")
	d.write("[api]\nlisten = \"127.0.0.1:0\"\nkey = \"\"\n[text]\nlisten = \"127.0.0.1:0\"\nkey = \"\"\n[gwcompat]\nregister = \"127.0.0.1:0\"\nsecret = \"\"\n")
	out := d.must("reload")
	for _, want := range []string{"kept: api.key: the old key stays in force", "kept: text.key: the old key stays in force", "gwcompat.secret"} {
		if !strings.Contains(out, want) {
			t.Errorf("reload output lacks %q:\n%s", want, out)
		}
	}
	if status, body := s.post("/api/isOnline", map[string]any{"client_id": "7f00000108fc00000001"}, ""); status != 401 {
		t.Fatalf("the API without its key after the reload: HTTP %d %s; want 401", status, body)
	}
	if status, body := s.post("/api/isOnline", map[string]any{"client_id": "7f00000108fc00000001"}, "k1"); status != 200 {
		t.Fatalf("the API with the old key after the reload: HTTP %d %s", status, body)
	}
	c, err := net.Dial("tcp", local("text"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, `{"method":"isOnline","params":{"client_id":"7f00000108fc00000001"}}`)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, "unauthorized") {
		t.Fatalf("the Text port without its key after the reload answered %q", line)
	}
	waitUntil(t, "the kept keys in the log", func() bool {
		return strings.Contains(d.log(), "api.key: the old key stays in force") && strings.Contains(d.log(), "text.key: the old key stays in force")
	})
	d.must("stop")
}

// TestVerbsWithATypo: a typo in thinkgate.toml does not keep a running
// instance from being seen, reloaded or stopped: status, connections,
// reload and stop find it by its pid file and say what is wrong with the
// config; reload reports the typo and still reopens the log and rolls the
// workers.
func TestVerbsWithATypo(t *testing.T) {
	d := newInstanceDir(t, "")
	d.must("start", "-d")
	f, err := os.OpenFile(d.path("thinkgate.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n[heartbeet]\ntimeout = \"10s\"\n") // the typo
	f.Close()
	for _, verb := range []string{"status", "connections"} {
		out, errOut, code := d.run(verb)
		if code != 0 || !strings.Contains(errOut, "heartbeet") || !strings.Contains(errOut, "warning") {
			t.Fatalf("%s with a typo in the config: exit %d\n%s\n%s", verb, code, out, errOut)
		}
	}
	out, errOut, code := d.run("reload")
	if code != 1 || !strings.Contains(out, "php workers") || !strings.Contains(errOut, "heartbeet") {
		t.Fatalf("reload with a typo: exit %d (want 1: the typo is reported, the workers rolled)\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := d.run("stop"); code != 0 {
		t.Fatalf("stop with a typo in the config: exit %d\n%s", code, errOut)
	}
	if _, _, code := d.run("status"); code != 4 {
		t.Fatalf("status after stop: exit %d, want 4 (not running)", code)
	}
}

// TestStartWithoutControlSocket: where no unix socket can be made (Windows
// before 10 1803, Wine; here a path under a regular file), thinkgate serves
// anyway and says so, and status says the process runs without one instead
// of calling its pid file stale.
func TestStartWithoutControlSocket(t *testing.T) {
	d := newInstanceDir(t, "")
	blocker := d.path("not-a-dir")
	os.WriteFile(blocker, nil, 0o644)
	d.write(fmt.Sprintf("[process]\ncontrol_socket = %q", filepath.Join(blocker, "thinkgate.sock")))
	d.must("start", "-d")
	waitUntil(t, "the warning in the log", func() bool { return strings.Contains(d.log(), "no control socket") })
	s := &server{t: t, addrs: map[string]string{}}
	for _, line := range strings.Split(d.log(), "\n") {
		if strings.Contains(line, "msg=listening") && strings.Contains(line, "listener=api") {
			s.addrs["api"] = strings.TrimPrefix(line[strings.Index(line, "addr="):], "addr=")
		}
	}
	if n := s.call("getAllClientIdCount", nil); n != 0.0 {
		t.Fatalf("the API of an instance without a control socket: %v", n)
	}
	_, errOut, code := d.run("status")
	if code == 0 || !strings.Contains(errOut, "running without a control socket") {
		t.Fatalf("status: exit %d, %q", code, errOut)
	}
	pid := d.pid()
	syscall.Kill(pid, syscall.SIGTERM)
	waitUntil(t, "the process gone", func() bool { return syscall.Kill(pid, 0) != nil })
}
