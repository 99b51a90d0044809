package phpworker

import (
	"context"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTCPChannelToken: the loopback port a worker connects back to takes
// only the connection that sends its one-time token first: another one is
// closed, and the worker's comes through after it.
func TestTCPChannelToken(t *testing.T) {
	cmd := exec.Command("true")
	ch, err := openTCP(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.closeRead()
	var addr, token string
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "THINKGATE_CHANNEL=tcp://"); ok {
			addr = v
		}
		if v, ok := strings.CutPrefix(kv, "THINKGATE_CHANNEL_TOKEN="); ok {
			token = v
		}
	}
	if addr == "" || len(token) != 32 {
		t.Fatalf("the worker's environment lacks the channel: %q", cmd.Env)
	}
	type result struct {
		to  io.WriteCloser
		err error
	}
	got := make(chan result, 1)
	go func() {
		to, _, err := ch.connect(5 * time.Second)
		got <- result{to, err}
	}()
	intruder, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	intruder.Write([]byte(strings.Repeat("0", 32) + "\n"))
	intruder.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := intruder.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a connection with a wrong token: %v, want closed", err)
	}
	worker, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	worker.Write([]byte(token + "\n"))
	r := <-got
	if r.err != nil {
		t.Fatalf("the worker's connection: %v", r.err)
	}
	r.to.Write([]byte("hello"))
	buf := make([]byte, 5)
	worker.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(worker, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("frames do not reach the worker: %q %v", buf, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the port still accepts connections once the worker is in")
	}
}

// TestPoolOverTCP: a pool whose workers use the tcp channel serves
// requests, streams, and replaces a worker that exits, as over pipes.
func TestPoolOverTCP(t *testing.T) {
	php := needPHP(t)
	spec := Spec{PHP: php, Args: []string{"../../php/worker.php", "../../php/tests/fixture_app.php"}, BootTimeout: 10 * time.Second, Channel: "tcp"}
	p, err := NewPool(spec, PoolOptions{Workers: 1, RequestTimeout: 5 * time.Second, QueueTimeout: 5 * time.Second, StopGrace: time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	f := &fixture{t: t, pool: p}
	if a := f.must("/hello"); a.status != 200 || a.body != "hello" {
		t.Fatalf("/hello over tcp: %d %q", a.status, a.body)
	}
	if a := f.must("/stream?n=3&gap=10"); a.body != "data: 1\n\ndata: 2\n\ndata: 3\n\n" {
		t.Fatalf("a stream over tcp: %q", a.body)
	}
	before := p.Spawned.Load()
	f.must("/exit")
	if a := f.must("/hello"); a.status != 200 || p.Spawned.Load() != before+1 {
		t.Fatalf("after exit(): %d %q, %d workers started (want one more)", a.status, a.body, p.Spawned.Load()-before)
	}
}
