package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/testenv"
)

// storeContract runs what every Store must do.
func storeContract(t *testing.T, s Store) {
	t.Helper()
	now := time.Unix(1000, 0)
	var first hub.Position
	for i := 1; i <= 5; i++ {
		p, err := s.Append("u:alice", Entry{Data: []byte(fmt.Sprint("m", i))}, now)
		if err != nil {
			t.Fatal(err)
		}
		if p.Offset != uint64(i) || p.Stream != "u:alice" || p.Epoch == "" {
			t.Fatalf("append %d: %+v", i, p)
		}
		if i == 1 {
			first = p
		} else if p.Epoch != first.Epoch {
			t.Fatalf("epoch changed within a stream: %s, %s", first.Epoch, p.Epoch)
		}
	}
	for _, tc := range []struct {
		offset    uint64
		epoch     string
		recovered bool
		want      []string
	}{
		{2, first.Epoch, true, []string{"m3", "m4", "m5"}},
		{5, first.Epoch, true, nil},
		{0, first.Epoch, false, nil}, // m1 and m2 were dropped (size 3)
		{1, first.Epoch, false, nil},
		{3, "another", false, nil},
		{9, first.Epoch, false, nil},
	} {
		got, top, ok, err := s.Since("u:alice", tc.offset, tc.epoch, now)
		if err != nil {
			t.Fatal(err)
		}
		var data []string
		for _, e := range got {
			data = append(data, string(e.Data))
		}
		if ok != tc.recovered || fmt.Sprint(data) != fmt.Sprint(tc.want) || top.Offset != 5 || top.Epoch != first.Epoch {
			t.Errorf("since %d/%s: %v %v top %+v, want %v %v", tc.offset, tc.epoch, ok, data, top, tc.recovered, tc.want)
		}
	}
	if _, _, ok, _ := s.Since("u:nobody", 0, "", now); !ok {
		t.Error("a stream with no messages: nothing missed")
	}
	if _, _, ok, _ := s.Since("u:nobody", 3, first.Epoch, now); ok {
		t.Error("a position in a stream that is not kept cannot be recovered")
	}
	// After TTL the stream is gone; a new message starts a new epoch.
	later := now.Add(time.Hour)
	if _, _, ok, _ := s.Since("u:alice", 5, first.Epoch, later); ok {
		t.Error("recovered past the TTL")
	}
	p, _ := s.Append("u:alice", Entry{Data: []byte("new")}, later)
	if p.Offset != 1 || p.Epoch == first.Epoch {
		t.Errorf("after expiry: %+v, want offset 1 in a new epoch", p)
	}
}

func TestMemoryStore(t *testing.T) {
	storeContract(t, &MemoryStore{Size: 3, TTL: time.Minute})
}

type recordConn struct{ got []*hub.Message }

func (r *recordConn) Send([]byte) bool  { return true }
func (r *recordConn) Close(int, string) {}
func (r *recordConn) Destroy()          {}

// Doer gives a send the positions of the streams that keep history, and
// every client its stream's position.
func TestDoerAssignsPositions(t *testing.T) {
	ids, _ := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	h := hub.New(ids)
	var seen []string
	enc := hub.NewStreamEncoding("test-positions", func(m *hub.Message) []byte {
		p, ok := m.Position()
		seen = append(seen, fmt.Sprintf("%s %s %d %v", m.Data, m.Stream, p.Offset, ok))
		return m.Data
	})
	a := h.Connect(&recordConn{}, enc)
	h.Do(&hub.Command{Op: hub.OpBindUid, ClientID: a.ID, UIDs: []string{"alice"}})
	h.Do(&hub.Command{Op: hub.OpJoinGroup, ClientID: a.ID, Groups: []string{"room-1"}})
	h.Do(&hub.Command{Op: hub.OpJoinGroup, ClientID: a.ID, Groups: []string{"lobby"}})
	d := &Doer{Next: h, Store: &MemoryStore{Size: 10, TTL: time.Minute}, Policy: Policy{UIDs: []string{"*"}, Groups: []string{"room-"}}}
	d.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"alice"}, Message: hub.NewText([]byte("1"))})
	d.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"alice"}, Message: hub.NewText([]byte("2"))})
	d.Do(&hub.Command{Op: hub.OpSendToGroup, Groups: []string{"room-1", "lobby"}, Message: hub.NewText([]byte("3"))})
	d.Do(&hub.Command{Op: hub.OpSendToAll, Message: hub.NewText([]byte("4"))})
	want := []string{"1 u:alice 1 true", "2 u:alice 2 true", "3 g:room-1 1 true", "3 g:lobby 0 false", "4  0 false"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("encoded %q, want %q", seen, want)
	}
}

func TestRedisStore(t *testing.T) {
	srv := testenv.Redis(t)
	opts, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	storeContract(t, &RedisStore{RDB: rdb, Prefix: fmt.Sprint("test", time.Now().UnixNano()), Size: 3, TTL: time.Minute, Timeout: 2 * time.Second})
}

func TestEntryEncoding(t *testing.T) {
	e := Entry{Data: []byte("x\x00:y"), Binary: true, Event: "ev:1"}
	got, at, err := decodeEntry("42:" + string(encodeEntry(e, time.UnixMilli(1234))))
	if err != nil || got.Offset != 42 || string(got.Data) != "x\x00:y" || !got.Binary || got.Event != "ev:1" || at.UnixMilli() != 1234 {
		t.Fatalf("%+v %v %v", got, at, err)
	}
	for _, bad := range []string{"", "x:", "1", "1:", "1:\x80"} {
		if _, _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%q) accepted", bad)
		}
	}
}
