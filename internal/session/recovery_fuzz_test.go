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
	"thinkgate/internal/history"
	"thinkgate/internal/hub"
	"thinkgate/internal/transport"
)

// FuzzRecoverMessage: whatever a version 2 client sends, a recover request
// is answered with well-formed JSON (replayed messages, then one recovered
// marker) and nothing else breaks; other messages go to the sink.
func FuzzRecoverMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"recover","streams":{"u:alice":{"offset":1,"epoch":"x"}}}`,
		`{"type":"recover","streams":{"u:alice":{"offset":0,"epoch":""},"g:room":{"offset":99,"epoch":"y"}}}`,
		`{"type":"recover","streams":null}`, `{"type":"recover"}`, `{"recover"}`, `{"type":"recover","streams":{"":{}}}`,
	} {
		f.Add(s)
	}
	ids, _ := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	h := hub.New(ids)
	store := &history.MemoryStore{Size: 5, TTL: time.Minute}
	for i := 0; i < 3; i++ {
		store.Append("u:alice", history.Entry{Data: []byte("m")}, time.Now())
	}
	m := NewManager(Options{Hub: h, Sink: events.Multi{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		NewNative(NativeOptions{InitMessage: true, History: store}))
	f.Fuzz(func(t *testing.T, msg string) {
		conn := &fakeConn{}
		peer := m.Open(conn, &transport.Request{URI: "/?v=2"}).(*nativeClient)
		h.Do(&hub.Command{Op: hub.OpBindUid, ClientID: peer.client.ID, UIDs: []string{"alice"}})
		var req recoverRequest
		if !isRecover([]byte(msg)) || json.Unmarshal([]byte(msg), &req) != nil || req.Type != "recover" {
			peer.Message(false, []byte(msg))
			peer.Closed()
			return
		}
		peer.recover(req, peer.client) // synchronously, to read what it sent
		conn.mu.Lock()
		sent := conn.sent
		conn.mu.Unlock()
		for i, b := range sent {
			fr, err := ws.ReadFrame(bytes.NewReader(b))
			if err != nil || !json.Valid(fr.Payload) {
				t.Fatalf("%q: frame %d is not JSON: %q", msg, i, b)
			}
			if i == len(sent)-1 && !bytes.HasPrefix(fr.Payload, []byte(`{"streams":`)) && !bytes.Contains(fr.Payload, []byte(`"type":"recovered"`)) {
				t.Fatalf("%q: the last frame is not the recovered marker: %s", msg, fr.Payload)
			}
		}
		peer.Closed()
	})
}
