package phpworker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"thinkgate/internal/procstat"
)

// BenchmarkThinkPHPHop is the PHP side of a ThinkPHP request without HTTP:
// one worker booted on the project TP_ROOT serves TP_PATH (default /) over
// its pipes, one request after another, and phpµs/op is the worker's own
// CPU per request (from /proc), to set beside bench/php/thinkphp_inproc.php
// on the same route. Skipped without TP_ROOT.
//
//	TP_ROOT=/path/to/tp TP_PATH=/api/info go test -run - -bench ThinkPHPHop -benchtime 5000x ./internal/phpworker
func BenchmarkThinkPHPHop(b *testing.B) {
	root := os.Getenv("TP_ROOT")
	if root == "" {
		b.Skip("TP_ROOT names no ThinkPHP project")
	}
	path := os.Getenv("TP_PATH")
	if path == "" {
		path = "/"
	}
	worker, _ := filepath.Abs("../../php/worker.php")
	spec := Spec{PHP: needPHP(b), Args: []string{worker, "--thinkphp", root}, Dir: root, BootTimeout: 10 * time.Second,
		INI: []string{"opcache.enable_cli=1"}}
	p, err := NewPool(spec, PoolOptions{Workers: 1, RequestTimeout: 10 * time.Second, QueueTimeout: 10 * time.Second, StopGrace: time.Second}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	req := &Frame{Type: TypeRequest, Meta: []byte(`{"method":"GET","uri":"` + path + `","path":"` + path + `","query":"","headers":{"Host":["localhost"]}}`)}
	emit := func(f *Frame) error {
		if f.Type != TypeResp {
			b.Fatalf("frame type %d: %s %s", f.Type, f.Meta, f.Body)
		}
		return nil
	}
	for range 300 { // warm up: OPcache, the first request's lazy loading
		if err := p.Serve(context.Background(), req, emit); err != nil {
			b.Fatal(err)
		}
	}
	pid := p.Stats().Procs[0].PID
	before := procstat.CPU(pid)
	b.ResetTimer()
	for range b.N {
		if err := p.Serve(context.Background(), req, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(procstat.CPU(pid)-before)/float64(b.N)/1e3, "phpµs/op")
}
