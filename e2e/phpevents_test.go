package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/wsclient"
)

// TestPHPEventSink: WebSocket events run in the resident PHP workers: a
// connect handler's reply and refusal, replies to messages in each client's
// order under concurrent load, a failing handler that costs one message, and
// close events that can push through Thinkgate\Gateway.
func TestPHPEventSink(t *testing.T) {
	needPHP(t)
	app, _ := filepath.Abs("testdata/events")
	// limits.message_rate off: the flood below is for the PHP backlog's limit (1013).
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 2\n[events]\nsink = \"php\"\n[limits]\nmessage_rate = 0", app))

	observer := s.dial()
	if m := observer.read(); !strings.Contains(m, `"type":"welcome"`) || !strings.Contains(m, observer.ID) {
		t.Fatalf("connect reply %q", m)
	}
	s.call("bindUid", map[string]any{"client_id": observer.ID, "uid": "observer"})

	// A refused connection: init, then close 4003.
	refused := s.dialPath("/?please=reject", nil)
	if f, err := refused.ReadFrame(5 * time.Second); err != nil || f.Op != ws.OpClose || f.CloseCode() != 4003 {
		t.Fatalf("refused client: %+v %v; want close 4003", f, err)
	}
	if m := observer.read(); m != "closed "+refused.ID {
		t.Fatalf("observer got %q", m)
	}

	// 8 clients, 40 messages each, sent without waiting: every client gets
	// its echoes in the order it sent them.
	const clients, msgs = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := wsclient.DialHeader(ctx, "ws://"+s.addr("ws")+"/", nil, http.Header{"User-Agent": {fmt.Sprint("client-", i)}})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.ReadText(5 * time.Second) // init
			if m, _ := c.ReadText(5 * time.Second); !strings.Contains(m, fmt.Sprintf(`"ua":"client-%d"`, i)) {
				errs <- fmt.Errorf("client %d: welcome %q lacks its User-Agent", i, m)
				return
			}
			for k := range msgs {
				prefix := ""
				if k%7 == 0 {
					prefix = "slow "
				}
				c.WriteText(fmt.Sprintf("%s%d-%d", prefix, i, k))
			}
			for k := range msgs {
				m, err := c.ReadText(10 * time.Second)
				if err != nil || !strings.HasSuffix(m, fmt.Sprintf(" %d-%d", i, k)) {
					errs <- fmt.Errorf("client %d, reply %d: %q %v", i, k, m, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// A handler that throws loses that message only; the next one is answered.
	c := s.dial()
	c.read() // welcome
	c.WriteText("boom")
	c.WriteText("after")
	if m := c.read(); m != "echo: after" {
		t.Fatalf("after a failing handler: %q", m)
	}
	c.Close()
	for {
		m := observer.read()
		if m == "closed "+c.ID {
			break
		}
		if !strings.HasPrefix(m, "closed ") {
			t.Fatalf("observer got %q", m)
		}
	}

	// A client that floods faster than PHP answers is closed with 1013;
	// the others are served meanwhile.
	flood := s.dial()
	flood.read() // welcome
	for k := range 600 {
		if flood.WriteText(fmt.Sprint("slow ", k)) != nil {
			break
		}
	}
	other := s.dial()
	other.read()
	other.WriteText("still served")
	if m := other.read(); m != "echo: still served" {
		t.Fatalf("another client during the flood: %q", m)
	}
	for {
		f, err := flood.ReadFrame(30 * time.Second)
		if err != nil {
			t.Fatalf("flooding client: %v, want close 1013", err)
		}
		if f.Op == ws.OpClose {
			if f.CloseCode() != 1013 {
				t.Fatalf("flooding client closed with %d, want 1013", f.CloseCode())
			}
			break
		}
	}
}

// BenchmarkPHPEvents: one client's messages through events.sink = "php"
// and back (the app echoes each), up to 64 sent ahead of the replies (under
// the 256 a client may have waiting): the cost of an event through the
// pool, one in flight per client.
//
//	E2E_RACE=0 go test -run XXX -bench PHPEvents -benchtime 4000x ./e2e
func BenchmarkPHPEvents(b *testing.B) {
	benchEvents(b, 1)
}

// BenchmarkPHPEventsParallel: the same with 8 clients at once on 2 workers.
func BenchmarkPHPEventsParallel(b *testing.B) { benchEvents(b, 8) }

func benchEvents(b *testing.B, clients int) {
	app, _ := filepath.Abs("testdata/events")
	s := start(b, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 2\n[events]\nsink = \"php\"\n[log]\nlevel = \"info\"", app))
	conns := make([]*wsclient.Conn, clients)
	for i := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/", nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.ReadText(5 * time.Second) // init
		c.ReadText(5 * time.Second) // welcome
		conns[i] = c
	}
	per := max(1, b.N/clients)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			window := make(chan struct{}, 64)
			go func() {
				for k := range per {
					window <- struct{}{}
					c.WriteText(fmt.Sprint(k))
				}
			}()
			for range per {
				if _, err := c.ReadText(30 * time.Second); err != nil {
					b.Error(err)
					return
				}
				<-window
			}
		}()
	}
	wg.Wait()
}
