package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/wsclient"
)

// fill opens up to n clients, each with a short wait, and returns those
// that got their init message and how many did not get in.
func fill(t *testing.T, s *server, n int) (in []*client, out int) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		c, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/", nil)
		cancel()
		if err != nil {
			out++
			continue
		}
		t.Cleanup(func() { c.Close() })
		m, err := c.ReadText(2 * time.Second)
		if err != nil {
			out++ // upgraded, then turned away
			continue
		}
		if !strings.Contains(m, `"init"`) {
			t.Fatalf("client %d: first message %q", len(in), m)
		}
		in = append(in, &client{Conn: c, t: t})
	}
	return in, out
}

// freeAndJoin closes ten clients and waits until a new one gets in.
func freeAndJoin(t *testing.T, s *server, in []*client) {
	t.Helper()
	for _, c := range in[:10] {
		c.Close()
	}
	waitFor(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/", nil)
		if err != nil {
			return false
		}
		defer c.Close()
		m, err := c.ReadText(2 * time.Second)
		return err == nil && strings.Contains(m, `"init"`)
	})
}

// TestConnectionCap: with 64 open files thinkgate takes as many clients as
// the limit leaves after its reserve, turns the rest away with 503, and the
// API (which needs descriptors too) keeps answering.
func TestConnectionCap(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	os.WriteFile(cfg, []byte(baseConfig), 0o644)
	s := startWrapped(t, cfg, "bash", "-c", `ulimit -n 64 && exec "$0" "$@"`)
	in, out := fill(t, s, 60)
	if len(in) != 32 || out != 28 {
		t.Fatalf("%d clients in, %d turned away; want 32 (half of 64 files) and 28", len(in), out)
	}
	waitFor(t, func() bool { return strings.Contains(s.logs(), "connection limit reached") })
	if n := s.call("sendToAll", map[string]any{"data": "still here"}); n != float64(len(in)) {
		t.Fatalf("sendToAll reached %v clients, want %d", n, len(in))
	}
	for i, c := range in {
		if m, err := c.ReadText(5 * time.Second); err != nil || m != "still here" {
			t.Fatalf("client %d: %q %v", i, m, err)
		}
	}
	freeAndJoin(t, s, in)
}

// TestFileDescriptorLimit: with the cap set past what 64 open files allow,
// thinkgate runs out of descriptors: accept backs off and says so, the
// clients already in keep being served, and a freed descriptor lets a new
// client in.
func TestFileDescriptorLimit(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	os.WriteFile(cfg, []byte(mergeTOML(baseConfig, "[ws]\nmax_connections = 1000\n[heartbeat]\nreply = \"pong\"")), 0o644)
	s := startWrapped(t, cfg, "bash", "-c", `ulimit -n 64 && exec "$0" "$@"`)
	in, out := fill(t, s, 80)
	if out == 0 || len(in) < 20 {
		t.Fatalf("%d clients in, %d kept waiting: the limit of 64 files did not bite as expected", len(in), out)
	}
	waitFor(t, func() bool {
		return strings.Contains(s.logs(), "too many open files") && strings.Contains(s.logs(), "accept failed; retrying")
	})
	// Every client already in is still served (the heartbeat reply needs no
	// new descriptor, unlike an API call now).
	for i, c := range in {
		c.WriteText("ping")
		if m, err := c.ReadText(5 * time.Second); err != nil || m != "pong" {
			t.Fatalf("client %d of %d at the limit: %q %v", i, len(in), m, err)
		}
	}
	freeAndJoin(t, s, in)
}
