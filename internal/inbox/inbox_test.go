package inbox

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/testenv"
)

func storeContract(t *testing.T, s Store) {
	t.Helper()
	now := time.Unix(1000, 0)
	for i := 1; i <= 4; i++ {
		if err := s.Push("bob", Message{Data: []byte(fmt.Sprint(i)), At: now}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Count("bob", now); n != 3 {
		t.Fatalf("count %d, want 3 (size 3)", n)
	}
	got, _ := s.Take("bob", now)
	if len(got) != 3 || string(got[0].Data) != "2" || string(got[2].Data) != "4" {
		t.Fatalf("take %v", got)
	}
	if n, _ := s.Count("bob", now); n != 0 {
		t.Fatalf("after take: %d", n)
	}
	s.Push("bob", Message{Data: []byte("old"), At: now})
	if n, _ := s.Count("bob", now.Add(time.Hour)); n != 0 {
		t.Fatal("kept past the TTL")
	}
	s.Push("carol", Message{Data: []byte("x"), At: now})
	if n, _ := s.Clear("carol", now); n != 1 {
		t.Fatalf("clear %d", n)
	}
	if m, _ := s.Take("carol", now); len(m) != 0 {
		t.Fatal("cleared messages delivered")
	}
}

func TestMemoryStore(t *testing.T) { storeContract(t, &MemoryStore{Size: 3, TTL: time.Minute}) }

func TestRedisStore(t *testing.T) {
	srv := testenv.Redis(t)
	opts, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	storeContract(t, &RedisStore{RDB: rdb, Prefix: fmt.Sprint("t", time.Now().UnixNano()), Size: 3, TTL: time.Minute, Timeout: 2 * time.Second})
}

type nopConn struct{}

func (nopConn) Send([]byte) bool  { return true }
func (nopConn) Close(int, string) {}
func (nopConn) Destroy()          {}

// A send with store to a uid without clients is kept; one with clients is
// not; Online hands the kept ones on.
func TestDoer(t *testing.T) {
	ids, _ := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	h := hub.New(ids)
	d := &Doer{Next: h, Store: &MemoryStore{Size: 10, TTL: time.Minute}}
	a := h.Connect(nopConn{}, hub.Payload)
	h.Do(&hub.Command{Op: hub.OpBindUid, ClientID: a.ID, UIDs: []string{"here"}})
	res, _ := d.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"here", "away"}, Store: true, Message: hub.NewText([]byte("x"))})
	if res != 1 {
		t.Fatalf("delivered %v", res)
	}
	d.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"away"}, Message: hub.NewText([]byte("not kept"))})
	for uid, want := range map[string]int{"here": 0, "away": 1} {
		if n, _ := d.Do(&hub.Command{Op: hub.OpGetInboxCount, UIDs: []string{uid}}); n != want {
			t.Fatalf("%s: %v waiting, want %d", uid, n, want)
		}
	}
	d.Always = []string{"away"}
	d.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{"away"}, Message: hub.NewText([]byte("kept by config"))})
	if n, _ := d.Do(&hub.Command{Op: hub.OpClearInbox, UIDs: []string{"away"}}); n != 2 {
		t.Fatalf("cleared %v, want 2", n)
	}
}
