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
)

// sseStream is a raw Server-Sent Events client.
type sseStream struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func openSSE(t *testing.T, addr, uri string, header string) (*sseStream, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s\r\n", uri, addr, header)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	return &sseStream{t: t, conn: c, r: r}, ""
}

// event returns the next event's id and data, skipping comments.
func (s *sseStream) event() (id, data string) {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && data != "":
			return id, data
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// TestSSE: a client on Server-Sent Events is a client like any other: it
// gets its key and init, is bound by a token, gets pushes with their
// positions as event ids, sends up by POST with its key, and after a
// reconnect with Last-Event-ID gets what it missed. What it gets wrong is
// answered with the status that says why.
func TestSSE(t *testing.T) {
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q\norigins = \"https://ok.example\"\n[history]\nuids = \"*\"\n[ws]\nmax_message_size = 100", authSecret))
	addr := s.addr("ws")
	tok := sign(map[string]any{"sub": "sse-user"}, authSecret)
	st, _ := openSSE(t, addr, "/sse?token="+tok, "")
	_, first := st.event()
	key := strings.TrimSuffix(strings.TrimPrefix(first, `{"type":"sse","key":"`), `"}`)
	if len(key) != 32 {
		t.Fatalf("first event %s", first)
	}
	if _, init := st.event(); !strings.HasPrefix(init, `{"type":"init","client_id":"`) {
		t.Fatalf("init %s", init)
	}
	s.call("sendToUid", map[string]any{"uid": "sse-user", "data": "one"})
	s.call("sendToUid", map[string]any{"uid": "sse-user", "data": "two"})
	id1, m1 := st.event()
	id2, _ := st.event()
	if !strings.HasPrefix(id1, "u:sse-user 1 ") || !strings.Contains(m1, `"data":"one"`) || !strings.HasPrefix(id2, "u:sse-user 2 ") {
		t.Fatalf("events %q %s, %q", id1, m1, id2)
	}
	post := func(key, body string) int {
		resp, err := http.Post("http://"+addr+"/sse/send?key="+key, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Upstream: a recover request sent by POST is answered on the stream.
	epoch := strings.Fields(id2)[2]
	if code := post(key, fmt.Sprintf(`{"type":"recover","streams":{"u:sse-user":{"offset":1,"epoch":%q}}}`, epoch)); code != 204 {
		t.Fatalf("POST: %d", code)
	}
	if _, replay := st.event(); !strings.Contains(replay, `"offset":2`) {
		t.Fatalf("replay %s", replay)
	}
	if _, done := st.event(); !strings.Contains(done, `"type":"recovered"`) {
		t.Fatalf("recovered %s", done)
	}
	for _, tc := range []struct {
		key, body string
		code      int
	}{{"nope", "x", 404}, {key, strings.Repeat("x", 101), 413}} {
		if code := post(tc.key, tc.body); code != tc.code {
			t.Errorf("POST %d bytes with key %q: %d, want %d", len(tc.body), tc.key, code, tc.code)
		}
	}
	// Gone, then back with Last-Event-ID: the events missed meanwhile.
	st.conn.Close()
	time.Sleep(100 * time.Millisecond)
	s.call("sendToUid", map[string]any{"uid": "sse-user", "data": "three"})
	back, _ := openSSE(t, addr, "/sse?token="+tok, "Last-Event-ID: "+id2+"\r\n")
	back.event() // key
	back.event() // init
	if id, m := back.event(); !strings.HasPrefix(id, "u:sse-user 3 ") || !strings.Contains(m, `"data":"three"`) {
		t.Fatalf("after Last-Event-ID: %q %s", id, m)
	}
	if _, done := back.event(); !strings.Contains(done, `"recovered":true`) {
		t.Fatalf("recovered %s", done)
	}
	// closeClient ends the stream with a close event.
	s.call("closeClient", map[string]any{"client_id": s.call("getClientIdByUid", map[string]any{"uid": "sse-user"}).([]any)[0]})
	if _, ev := back.event(); !strings.Contains(ev, `"type":"close","code":1000`) {
		t.Fatalf("close event %s", ev)
	}
	// Refusals: a bad token, a foreign origin, a GET on the send path.
	if _, refused := openSSE(t, addr, "/sse?token=bad", ""); !strings.HasPrefix(refused, "401") {
		t.Errorf("bad token: %s", refused)
	}
	if _, refused := openSSE(t, addr, "/sse?token="+tok, "Origin: https://evil.example\r\n"); !strings.HasPrefix(refused, "403") {
		t.Errorf("foreign origin: %s", refused)
	}
	resp, err := http.Get("http://" + addr + "/sse/send")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /sse/send: %d", resp.StatusCode)
	}
}
