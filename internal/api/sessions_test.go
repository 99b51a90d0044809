package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpser"
)

// TestLargeSessionListIsWrittenAsEncoded: getAllClientSessions over 10
// sessions of 1 MB answers the same JSON as before, one session encoded at a
// time: the handler allocates far less than json.Marshal of the whole map
// did (a copy per session, the whole answer, and its check).
func TestLargeSessionListIsWrittenAsEncoded(t *testing.T) {
	g, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(g)
	big := strings.Repeat("s", 1_000_000)
	for i := range 10 {
		c := h.Connect(nopConn{}, hub.Payload)
		a := phpser.NewArr()
		a.Set(phpser.StrKey("name"), phpser.Str(big))
		a.Set(phpser.StrKey("n"), phpser.IntV(int64(i)))
		h.Do(&hub.Command{Op: hub.OpSetSession, ClientID: c.ID, Session: phpser.Serialize(phpser.ArrV(a))})
	}
	srv := httptest.NewServer(NewHTTP(h, HTTPOptions{MaxBodySize: 1 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	post := func() *http.Response {
		resp, err := http.Post(srv.URL+"/api/getAllClientSessions", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// What the client gets: every session whole.
	resp := post()
	var out struct {
		Result map[string]struct {
			Name string `json:"name"`
			N    int    `json:"n"`
		} `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || len(out.Result) != 10 {
		t.Fatalf("%d sessions, %v", len(out.Result), err)
	}
	for id, s := range out.Result {
		if s.Name != big {
			t.Fatalf("session of %s: name of %d bytes", id, len(s.Name))
		}
	}
	// What answering costs the server (the client only discards): each
	// session decoded and encoded on its own, about 6 MB each, none kept
	// (59 MB in all here); building the answer whole as well (json.Marshal of
	// the map, its validity check and the final copy) made it 108 MB.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp = post()
	n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 64<<10))
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; n < 10_000_000 || alloc > 80<<20 {
		t.Fatalf("answering %d bytes of sessions allocated %d MB", n, alloc>>20)
	}
}
