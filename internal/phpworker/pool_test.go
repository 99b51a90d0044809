package phpworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	t      *testing.T
	pool   *Pool
	broken string // create this file to make new workers fail to boot
}

// testChannel is the worker channel the pool tests use: the default, or
// THINKGATE_TEST_CHANNEL=tcp (scripts/test runs this package both ways).
var testChannel = os.Getenv("THINKGATE_TEST_CHANNEL")

func newPool(t *testing.T, opts PoolOptions) *fixture {
	t.Helper()
	php := needPHP(t)
	f := &fixture{t: t, broken: filepath.Join(t.TempDir(), "broken")}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.QueueTimeout == 0 {
		opts.QueueTimeout = 5 * time.Second
	}
	opts.StopGrace = time.Second
	spec := Spec{PHP: php, Args: []string{"../../php/worker.php", "../../php/tests/fixture_app.php"},
		Env: []string{"FIXTURE_BROKEN_FILE=" + f.broken}, BootTimeout: 10 * time.Second, Channel: testChannel}
	p, err := NewPool(spec, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	f.pool = p
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return f
}

// answer is what a request got back.
type answer struct {
	frames []*Frame
	times  []time.Time
	status int
	body   string
	meta   map[string]any
}

func (f *fixture) get(uri string, mods ...func(m map[string]any)) (*answer, error) {
	path, query, _ := strings.Cut(uri, "?")
	meta := map[string]any{"method": "GET", "uri": uri, "path": path, "query": query, "headers": map[string][]string{}}
	for _, mod := range mods {
		mod(meta)
	}
	mb, _ := json.Marshal(meta)
	a := &answer{}
	err := f.pool.Serve(context.Background(), &Frame{Type: TypeRequest, Meta: mb}, func(fr *Frame) error {
		a.frames = append(a.frames, fr)
		a.times = append(a.times, time.Now())
		switch fr.Type {
		case TypeResp, TypeHead:
			json.Unmarshal(fr.Meta, &a.meta)
			a.status = int(a.meta["status"].(float64))
			a.body += string(fr.Body)
		case TypeChunk:
			a.body += string(fr.Body)
		case TypeError:
			a.status = 500
			a.body = string(fr.Body)
		}
		return nil
	})
	return a, err
}

func (f *fixture) must(uri string) *answer {
	f.t.Helper()
	a, err := f.get(uri)
	if err != nil {
		f.t.Fatalf("%s: %v", uri, err)
	}
	return a
}

func pid(f *fixture) string {
	var m struct{ Pid int }
	json.Unmarshal([]byte(f.must("/json").body), &m)
	return fmt.Sprint(m.Pid)
}

func TestPoolServesAndKeepsStrayOutput(t *testing.T) {
	f := newPool(t, PoolOptions{})
	if a := f.must("/hello"); a.status != 200 || a.body != "hello" {
		t.Fatalf("hello: %d %q", a.status, a.body)
	}
	if a := f.must("/stray"); a.body != "stray output;body" {
		t.Fatalf("stray output: %q", a.body)
	}
	if a := f.must("/nowhere"); a.status != 404 {
		t.Fatalf("404: %d", a.status)
	}
	if a := f.must("/throw"); a.status != 500 || a.frames[0].Type != TypeError || strings.Contains(a.body, "boom") {
		t.Fatalf("exception: %d %q (the message must not leak without debug)", a.status, a.body)
	}
}

// TestExitAndFatalCostOneRequest: exit() answers with what was printed,
// a fatal error with 500, and either way the worker is replaced.
func TestExitAndFatalCostOneRequest(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 1})
	before := pid(f)
	if a := f.must("/exit"); a.status != 200 || a.body != "partial output before exit" || a.frames[0].Flags&FlagRecycle == 0 {
		t.Fatalf("exit: %d %q", a.status, a.body)
	}
	after := pid(f)
	if after == before {
		t.Fatal("the worker that called exit() is still serving")
	}
	if a := f.must("/fatal"); a.status != 500 || a.body != "Internal Server Error" {
		t.Fatalf("fatal: %d %q", a.status, a.body)
	}
	if pid(f) == after {
		t.Fatal("the worker that hit a fatal error is still serving")
	}
	if a := f.must("/hello"); a.body != "hello" {
		t.Fatalf("after replacement: %q", a.body)
	}
	// A catchable Error is a 500 and costs nothing more.
	kept := pid(f)
	if a := f.must("/error"); a.status != 500 || pid(f) != kept {
		t.Fatalf("Error: %d, worker kept: %v", a.status, pid(f) == kept)
	}
}

func TestRequestTimeoutKillsAndReplaces(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 1, RequestTimeout: 300 * time.Millisecond})
	before := pid(f)
	start := time.Now()
	_, err := f.get("/sleep?ms=3000")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	if a := f.must("/hello"); a.body != "hello" {
		t.Fatalf("after timeout: %q", a.body)
	}
	if pid(f) == before {
		t.Fatal("the stuck worker was not replaced")
	}
}

func TestQueueTimeout(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 1, QueueTimeout: 100 * time.Millisecond})
	done := make(chan struct{})
	go func() { f.get("/sleep?ms=800"); close(done) }()
	time.Sleep(200 * time.Millisecond)
	if _, err := f.get("/hello"); !errors.Is(err, ErrBusy) {
		t.Fatalf("want ErrBusy, got %v", err)
	}
	<-done
	if a := f.must("/hello"); a.body != "hello" {
		t.Fatalf("after the slow request: %q", a.body)
	}
}

// TestStreamArrivesBeforeTheEnd: SSE chunks reach the caller as PHP yields them.
func TestStreamArrivesBeforeTheEnd(t *testing.T) {
	f := newPool(t, PoolOptions{})
	a := f.must("/stream?n=3&gap=300")
	if a.body != "data: 1\n\ndata: 2\n\ndata: 3\n\n" || a.meta["headers"].(map[string]any)["Content-Type"].([]any)[0] != "text/event-stream" {
		t.Fatalf("stream: %q %v", a.body, a.meta)
	}
	if a.frames[0].Type != TypeHead || a.frames[len(a.frames)-1].Type != TypeEnd {
		t.Fatalf("frames %v", a.frames)
	}
	if gap := a.times[len(a.times)-1].Sub(a.times[1]); gap < 500*time.Millisecond {
		t.Fatalf("the first chunk came only %s before the end: not streamed", gap)
	}
}

// TestIsolationBetweenUsers: a request without a cookie never sees another
// user's session or cookies, on any worker.
func TestIsolationBetweenUsers(t *testing.T) {
	f := newPool(t, PoolOptions{})
	for i := range 20 {
		login := f.must(fmt.Sprintf("/login?user=mallory%d", i))
		cookie := login.meta["headers"].(map[string]any)["Set-Cookie"].([]any)[0].(string)
		sid := strings.TrimPrefix(strings.Split(cookie, ";")[0], "sid=")
		withCookie := func(m map[string]any) { m["cookies"] = map[string]string{"sid": sid} }
		me, _ := f.get("/whoami", withCookie)
		if !strings.Contains(me.body, fmt.Sprintf(`"user":"mallory%d"`, i)) {
			t.Fatalf("the user's own session: %s", me.body)
		}
		anon := f.must("/whoami")
		if anon.body != `{"user":null,"cookies":[]}` {
			t.Fatalf("anonymous request %d saw %s", i, anon.body)
		}
		if _, ok := anon.meta["headers"].(map[string]any)["Set-Cookie"]; ok {
			t.Fatalf("a cookie leaked into another response: %v", anon.meta)
		}
	}
}

// TestMemoryIsFlat: 2,000 requests leave PHP's memory where it was.
func TestMemoryIsFlat(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 1})
	f.must("/hello")
	first := f.must("/mem").body
	for i := range 2000 {
		if a := f.must(fmt.Sprintf("/server?i=%d", i)); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	if last := f.must("/mem").body; last != first {
		t.Fatalf("memory_get_usage(true) went from %s to %s over 2,000 requests", first, last)
	}
}

func TestMaxMemoryAndMaxJobsRetire(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 1, MaxMemory: 8 << 20})
	before := pid(f)
	for range 12 {
		f.must("/leak")
	}
	if pid(f) == before {
		t.Fatal("a worker past max_memory was not retired")
	}
	g := newPool(t, PoolOptions{Workers: 1, MaxJobs: 16})
	pids := map[string]bool{}
	for range 60 {
		pids[pid(g)] = true
	}
	if len(pids) < 3 || len(pids) > 6 {
		t.Fatalf("60 requests with max_jobs 16 (±12%%) ran on %d workers", len(pids))
	}
}

func TestBootFailureShowsPHPError(t *testing.T) {
	php := needPHP(t)
	broken := filepath.Join(t.TempDir(), "broken")
	os.WriteFile(broken, nil, 0o644)
	_, err := NewPool(Spec{PHP: php, Args: []string{"../../php/worker.php", "../../php/tests/fixture_app.php"},
		Env: []string{"FIXTURE_BROKEN_FILE=" + broken}, BootTimeout: 5 * time.Second}, PoolOptions{Workers: 1}, quiet)
	var be *BootError
	if !errors.As(err, &be) || !strings.Contains(be.Stderr, "Parse error") {
		t.Fatalf("want a BootError quoting PHP, got %v", err)
	}
}

// TestReloadUnderLoad: a rolling reload while requests keep coming fails
// none of them, and afterwards only new workers serve. A reload whose new
// workers cannot boot leaves the old ones serving.
func TestReloadUnderLoad(t *testing.T) {
	f := newPool(t, PoolOptions{Workers: 2})
	oldBoot := map[string]bool{}
	for range 6 {
		oldBoot[f.must("/booted").body] = true
	}
	var failed, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, err := f.get("/sleep?ms=5")
				if err != nil || a.body != "slept" {
					failed.Add(1)
				}
				served.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := f.pool.Reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	os.WriteFile(f.broken, nil, 0o644)
	if err := f.pool.Reload(); err == nil || !strings.Contains(err.Error(), "Parse error") {
		t.Fatalf("a broken reload: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || served.Load() < 50 {
		t.Fatalf("%d of %d requests failed during reloads", failed.Load(), served.Load())
	}
	for range 6 {
		if b := f.must("/booted").body; oldBoot[b] {
			t.Fatal("a worker from before the reload still serves")
		}
	}
}
