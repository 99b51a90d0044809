package phpworker

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkHop is the cost of one request through the Go<->PHP protocol with
// a handler that does nothing: frame out, PHP reads it, builds the Request
// and superglobals, calls the handler, frames the answer back.
func BenchmarkHop(b *testing.B) {
	php := "php"
	spec := Spec{PHP: php, Args: []string{"../../php/worker.php", "../../bench/php/noop_app.php"}, BootTimeout: 10 * time.Second, Channel: testChannel}
	p, err := NewPool(spec, PoolOptions{Workers: 1, RequestTimeout: 10 * time.Second, QueueTimeout: 10 * time.Second, StopGrace: time.Second}, quiet)
	if err != nil {
		b.Skip(err)
	}
	defer p.Close(context.Background())
	req := &Frame{Type: TypeRequest, Meta: []byte(`{"method":"GET","uri":"/","path":"/","query":"","headers":{"Host":["localhost"]}}`)}
	emit := func(*Frame) error { return nil }
	b.ResetTimer()
	for range b.N {
		if err := p.Serve(context.Background(), req, emit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeRoundTrip is the floor under BenchmarkHop: a frame to a PHP
// process that only echoes it back, over the same fd 3/4 pipes.
func BenchmarkPipeRoundTrip(b *testing.B) {
	cmd := exec.Command(needPHP(b), "../../php/tests/echo_worker.php")
	cmd.Env = append(os.Environ(), "ECHO_QUIET=1")
	goWrites, r := startEcho(b, cmd)
	if _, err := ReadFrame(r, Limits{}); err != nil {
		b.Fatal(err)
	}
	f := &Frame{Type: TypeRequest, Meta: []byte(`{"method":"GET","uri":"/","path":"/","query":"","headers":{"Host":["localhost"]}}`)}
	b.ResetTimer()
	for range b.N {
		WriteFrame(goWrites, f)
		if _, err := ReadFrame(r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
