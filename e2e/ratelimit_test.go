package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// handshakeAnswer sends a WebSocket handshake for path, with the headers
// h, and returns the answer: the status line of an accepted one (the
// connection is left open until the test ends), the whole answer of a
// refused one (status, headers, body).
func handshakeAnswer(t *testing.T, addr, path string, h http.Header) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", path, addr)
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(nc, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprint(nc, "\r\n")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	status, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("handshake answer: %v", err)
	}
	if strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return status
	}
	rest, _ := io.ReadAll(r)
	return status + string(rest)
}

func metricValue(t *testing.T, s *server, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr("api") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}

// TestRateLimits crosses each rate limit and checks what the client sees
// and that /metrics counts it: connections from one address at once (429),
// new connections per second from one address (429), messages per second
// from one client (close 4008), API requests per second per key (429 with
// code rate_limited); loopback clients are exempt from the per-address
// limits unless limits.loopback.
func TestRateLimits(t *testing.T) {
	t.Run("connections per address", func(t *testing.T) {
		s := start(t, "[limits]\nloopback = true\nconnections_per_ip = 3\nconnect_rate_per_ip = 0")
		var cs []*client
		for range 3 {
			cs = append(cs, s.dial())
		}
		if a := handshakeAnswer(t, s.addr("ws"), "/", nil); !strings.HasPrefix(a, "HTTP/1.1 429 ") || !strings.Contains(a, "limits.connections_per_ip") {
			t.Fatalf("the fourth client from one address got %q", a)
		}
		cs[0].Close()
		waitFor(t, func() bool { return s.call("getAllClientIdCount", nil) == 2.0 })
		s.dial() // room again
		if v := metricValue(t, s, `thinkgate_rate_limited_total{limit="connections_per_ip"}`); v != "1" {
			t.Fatalf("metric %q, want 1", v)
		}
	})
	t.Run("new connections per second", func(t *testing.T) {
		s := start(t, "[limits]\nloopback = true\nconnections_per_ip = 0\nconnect_rate_per_ip = 2")
		refused := ""
		for i := range 10 { // a burst of 4 passes, then 2 a second
			if a := handshakeAnswer(t, s.addr("ws"), "/", nil); !strings.HasPrefix(a, "HTTP/1.1 101 ") {
				refused = fmt.Sprintf("attempt %d: %s", i, a)
				break
			}
		}
		if !strings.Contains(refused, "429") || !strings.Contains(refused, "limits.connect_rate_per_ip") {
			t.Fatalf("10 connections at once with connect_rate_per_ip = 2: %q", refused)
		}
	})
	t.Run("loopback exempt by default", func(t *testing.T) {
		s := start(t, "[limits]\nconnections_per_ip = 1")
		s.dial()
		s.dial() // a reverse proxy on this machine is not one client
	})
	t.Run("messages per second", func(t *testing.T) {
		s := start(t, "[limits]\nmessage_rate = 5")
		c := s.dial()
		for i := range 30 {
			if c.WriteText(fmt.Sprint("message ", i)) != nil {
				break
			}
		}
		for {
			f, err := c.ReadFrame(5 * time.Second)
			if err != nil {
				t.Fatalf("a client sending 30 messages at once with message_rate = 5: %v, want close 4008", err)
			}
			if f.Op == ws.OpClose {
				if _, reason := ws.ParseCloseFrameData(f.Payload); f.CloseCode() != 4008 || !strings.Contains(reason, "limits.message_rate") {
					t.Fatalf("close %d %q, want 4008 naming limits.message_rate", f.CloseCode(), reason)
				}
				break
			}
		}
		if v := metricValue(t, s, `thinkgate_rate_limited_total{limit="message_rate"}`); v != "1" {
			t.Fatalf("metric %q, want 1", v)
		}
	})
	t.Run("API requests per second", func(t *testing.T) {
		s := start(t, "[limits]\napi_rate = 10\n[api]\nkey = \"k\"")
		var got int
		var body []byte
		for range 40 {
			if got, body = s.post("/api/getAllClientIdCount", map[string]any{}, "k"); got != 200 {
				break
			}
		}
		if got != 429 || !strings.Contains(string(body), `"rate_limited"`) || !strings.Contains(string(body), "limits.api_rate") {
			t.Fatalf("40 API calls at once with api_rate = 10: HTTP %d %s", got, body)
		}
	})
}

// TestRateLimitsReload: the limits are live: a reload that lowers
// limits.api_rate applies to the next requests.
func TestRateLimitsReload(t *testing.T) {
	d := newInstanceDir(t, "[limits]\napi_rate = 100000")
	d.must("start", "-d")
	s := d.server()
	for range 40 {
		if st, b := s.post("/api/getAllClientIdCount", map[string]any{}, ""); st != 200 {
			t.Fatalf("before the reload: HTTP %d %s", st, b)
		}
	}
	d.write("[limits]\napi_rate = 5")
	if out := d.must("reload"); !strings.Contains(out, "limits.api_rate") {
		t.Fatalf("reload does not say it applied limits.api_rate:\n%s", out)
	}
	refused := false
	for range 40 {
		if st, _ := s.post("/api/getAllClientIdCount", map[string]any{}, ""); st == 429 {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("after lowering limits.api_rate to 5 by reload, 40 calls at once all passed")
	}
	d.must("stop")
}
