package session

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/clientid"
	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/pusher"
	"thinkgate/internal/transport"
)

// pusherFixture is a manager serving one Pusher app ("k"/"s") on a hub.
func pusherFixture(t testing.TB) *Manager {
	t.Helper()
	ids, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(ids)
	m := NewManager(Options{Hub: h, Sink: events.Multi{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, NewNative(NativeOptions{}))
	m.Route("/app/", NewPusher(PusherOptions{Apps: pusher.NewApps([]*pusher.App{{ID: "1", Key: "k", Secret: "s"}}),
		Doer: h, ActivityTimeout: time.Minute, MaxPresenceMembers: 2, Cache: &pusher.Cache{TTL: time.Minute}}))
	return m
}

// sentJSON decodes every frame queued on c and checks each is a text frame
// holding one JSON object with an event.
func sentJSON(t *testing.T, c *fakeConn) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, b := range c.sent {
		f, err := ws.ReadFrame(bytes.NewReader(b))
		if err != nil || f.Header.OpCode != ws.OpText {
			t.Fatalf("queued %q: not a text frame (%v)", b, err)
		}
		var m struct{ Event string }
		if json.Unmarshal(f.Payload, &m) != nil || m.Event == "" {
			t.Fatalf("queued %s: not a Pusher event", f.Payload)
		}
		out = append(out, string(f.Payload))
	}
	return out
}

// FuzzPusherMessage: whatever a Pusher client sends, it gets well-formed
// events back (or nothing), the server does not panic, and the connection
// is never closed for a message it could not read.
func FuzzPusherMessage(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:ping","data":{}}`,
		`{"event":"pusher:subscribe","data":{"auth":"","channel":"news"}}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"private-a\",\"auth\":\"k:00\"}"}`,
		`{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:00","channel_data":"{\"user_id\":1}"}}`,
		`{"event":"pusher:subscribe","data":{"channel":"cache-a"}}`,
		`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`,
		`{"event":"pusher:signin","data":{"auth":"k:00","user_data":"{\"id\":\"1\"}"}}`,
		`{"event":"client-x","channel":"private-a","data":{"a":[1,2]}}`,
		`{"event":"","data":null}`, `[]`, `null`, `{`, "",
	} {
		f.Add(s)
	}
	m := pusherFixture(f)
	f.Fuzz(func(t *testing.T, msg string) {
		conn := &fakeConn{}
		peer := m.Open(conn, &transport.Request{URI: "/app/k?protocol=7"}).(*pusherClient)
		peer.handle([]byte(msg))
		peer.handle([]byte(`{"event":"pusher:ping","data":{}}`))
		got := sentJSON(t, conn)
		if got[len(got)-1] != `{"event":"pusher:pong","data":"{}"}` {
			t.Fatalf("after %q the ping got %s", msg, got[len(got)-1])
		}
		if conn.closed != 0 && !bytes.Contains([]byte(msg), []byte("signin")) {
			t.Fatalf("%q closed the connection (%d)", msg, conn.closed)
		}
		peer.closed()
	})
}

// The protocol's answers to a client that signs nothing right.
func TestPusherSubscriptionErrors(t *testing.T) {
	m := pusherFixture(t)
	conn := &fakeConn{}
	c := m.Open(conn, &transport.Request{URI: "/app/k?protocol=7"}).(*pusherClient)
	app := &pusher.App{Key: "k", Secret: "s"}
	sign := func(s string) string { return "k:" + app.Sign(c.socketID()+":"+s) }
	presence := func(user string) string {
		data := `{"user_id":"` + user + `"}`
		b, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": "presence-r", "auth": sign("presence-r:" + data), "channel_data": data}})
		return string(b)
	}
	for _, tc := range []struct{ send, want string }{
		{presence("1"), `\"ids\":[\"1\"]`}, // data is a JSON string
		{`{"event":"pusher:subscribe","data":{"channel":"#server-to-user-1"}}`, `\"status\":403`},
		{`{"event":"client-x","channel":"news","data":{}}`, `not subscribed`},
	} {
		c.handle([]byte(tc.send))
		got := sentJSON(t, conn)
		if last := got[len(got)-1]; !bytes.Contains([]byte(last), []byte(tc.want)) {
			t.Errorf("%s: got %s, want %s", tc.send, last, tc.want)
		}
	}
	// max_presence_members = 2: a third user is refused, the same user is not.
	other := func(user string) *pusherClient {
		oc := m.Open(&fakeConn{}, &transport.Request{URI: "/app/k?protocol=7"}).(*pusherClient)
		data := `{"user_id":"` + user + `"}`
		b, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": "presence-r",
			"auth": "k:" + app.Sign(oc.socketID()+":presence-r:"+data), "channel_data": data}})
		oc.handle(b)
		return oc
	}
	other("2")
	third := other("3")
	if got := sentJSON(t, third.Conn.(*fakeConn)); !bytes.Contains([]byte(got[len(got)-1]), []byte(`\"status\":403`)) {
		t.Fatalf("third user: %s", got[len(got)-1])
	}
	again := other("1")
	if got := sentJSON(t, again.Conn.(*fakeConn)); !bytes.Contains([]byte(got[len(got)-1]), []byte(`\"count\":2`)) {
		t.Fatalf("a second connection of user 1: %s", got[len(got)-1])
	}
}
