package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// stubFallback takes /sse requests and reads their body.
type stubFallback struct{ served int }

func (s *stubFallback) Match(path string) bool { return path == "/sse" || path == "/sse/send" }
func (s *stubFallback) Serve(_ net.Conn, r *http.Request, br *bufio.Reader) {
	s.served++
	io.Copy(io.Discard, io.LimitReader(br, r.ContentLength))
}

// FuzzHandshakeRouting feeds arbitrary bytes to the handshake with a static
// file and a fallback: each request ends as exactly one of a file, the
// fallback, a handshake or an error, and nothing panics.
func FuzzHandshakeRouting(f *testing.F) {
	for _, s := range []string{
		"GET /thinkgate.js HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /sse?token=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: u:a 1 e\r\n\r\n",
		"POST /sse/send?key=k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /sse HTTP/1.1\r\n", "\r\n\r\n", "POST / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fb := &stubFallback{}
		o := newSettings(Options{HandshakeTimeout: time.Second, MaxHeaderSize: 4096, Fallback: fb,
			Static: func(path string) (string, string, bool) { return "js", "text/javascript", path == "/thinkgate.js" }})
		req, fr, err := upgrade(&fakeNetConn{r: bytes.NewReader(in)}, o)
		outcomes := 0
		if errors.Is(err, errStatic) {
			outcomes++
		}
		if fr != nil {
			outcomes++
			if !errors.Is(err, errFallback) {
				t.Fatalf("a fallback request with error %v", err)
			}
			fb.Serve(nil, fr.req, fr.br)
		}
		if req != nil {
			outcomes++
		}
		if err != nil && !errors.Is(err, errStatic) && fr == nil {
			outcomes++
		}
		if outcomes != 1 {
			t.Fatalf("%q: %d outcomes (req %v, fallback %v, err %v)", in, outcomes, req != nil, fr != nil, err)
		}
	})
}
