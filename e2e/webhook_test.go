package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"thinkgate/internal/webhook"
)

// receiver is the app's webhook endpoint in these tests: it checks every
// POST's signature and keeps the events, or fails while told to.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	events  []webhook.Event
	posts   []int // events per POST
	failing bool
	bad     int // POSTs whose signature did not verify
	last    struct {
		ts, sig string
		body    []byte
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, sig := req.Header.Get("X-Thinkgate-Timestamp"), req.Header.Get("X-Thinkgate-Signature")
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(authSecret, ts, sig, body, time.Now(), 5*time.Minute); err != nil {
		r.bad++
		http.Error(w, err.Error(), 401)
		return
	}
	if r.failing {
		http.Error(w, "down for maintenance", 503)
		return
	}
	var b struct{ Events []webhook.Event }
	json.Unmarshal(body, &b)
	r.events = append(r.events, b.Events...)
	r.posts = append(r.posts, len(b.Events))
	r.last.ts, r.last.sig, r.last.body = ts, sig, body
}

func (r *receiver) setFailing(f bool) {
	r.mu.Lock()
	r.failing = f
	r.mu.Unlock()
}

// find returns the events matching keep.
func (r *receiver) find(keep func(webhook.Event) bool) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.Event
	for _, e := range r.events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func (r *receiver) wait(t *testing.T, what string, keep func(webhook.Event) bool) webhook.Event {
	t.Helper()
	var got []webhook.Event
	waitFor(t, func() bool { got = r.find(keep); return len(got) > 0 })
	if len(got) != 1 {
		t.Fatalf("%s arrived %d times: %+v", what, len(got), got)
	}
	return got[0]
}

func TestWebhookEvents(t *testing.T) {
	rec := &receiver{t: t}
	hs := httptest.NewServer(rec)
	defer hs.Close()
	s := start(t, fmt.Sprintf("[events]\nsink = \"webhook\"\nwebhook_url = %q\nwebhook_secret = %q\noffline_delay = \"500ms\"\nwebhook_retries = 4", hs.URL, authSecret))

	// connect, message, online, close, then offline after the delay.
	c := s.dial()
	rec.wait(t, "connect", func(e webhook.Event) bool {
		return e.Type == "connect" && e.ClientID == c.ID && strings.HasPrefix(e.Remote, "127.0.0.1:")
	})
	c.WriteText("hello app")
	rec.wait(t, "message", func(e webhook.Event) bool { return e.Type == "message" && e.ClientID == c.ID && e.Data == "hello app" })
	s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "u1"})
	rec.wait(t, "online", func(e webhook.Event) bool { return e.Type == "online" && e.UID == "u1" })
	closedAt := time.Now()
	c.Close()
	rec.wait(t, "close", func(e webhook.Event) bool { return e.Type == "close" && e.ClientID == c.ID && e.UID == "u1" })
	off := rec.wait(t, "offline", func(e webhook.Event) bool { return e.Type == "offline" && e.UID == "u1" })
	if d := time.UnixMilli(off.Time).Sub(closedAt); d < 400*time.Millisecond {
		t.Fatalf("offline came %s after the close, before offline_delay", d)
	}

	// A reload: u2 leaves and a new tab binds within the window: no offline, no second online.
	a := s.dial()
	s.call("bindUid", map[string]any{"client_id": a.ID, "uid": "u2"})
	rec.wait(t, "online u2", func(e webhook.Event) bool { return e.Type == "online" && e.UID == "u2" })
	a.Close()
	rec.wait(t, "close of the first tab", func(e webhook.Event) bool { return e.Type == "close" && e.ClientID == a.ID })
	b := s.dial()
	s.call("bindUid", map[string]any{"client_id": b.ID, "uid": "u2"})
	time.Sleep(time.Second) // past offline_delay
	if got := rec.find(func(e webhook.Event) bool { return e.UID == "u2" && (e.Type == "offline" || e.Type == "online") }); len(got) != 1 {
		t.Fatalf("a quick reconnect sent %+v; want only the first online", got)
	}

	// Batching: 30 messages at once share POSTs.
	for i := range 30 {
		b.WriteText(fmt.Sprint("burst ", i))
	}
	waitFor(t, func() bool {
		return len(rec.find(func(e webhook.Event) bool { return strings.HasPrefix(e.Data, "burst ") })) == 30
	})
	rec.mu.Lock()
	most := 0
	for _, n := range rec.posts {
		most = max(most, n)
	}
	rec.mu.Unlock()
	if most < 2 {
		t.Fatalf("every POST carried one event; want batches")
	}

	// The app is down: a message is lost, the close is retried until it is back.
	rec.setFailing(true)
	b.WriteText("while down")
	b.Close()
	time.Sleep(400 * time.Millisecond)
	rec.setFailing(false)
	rec.wait(t, "close after the app came back", func(e webhook.Event) bool { return e.Type == "close" && e.ClientID == b.ID })
	if got := rec.find(func(e webhook.Event) bool { return e.Data == "while down" }); len(got) != 0 {
		t.Fatalf("a message event was retried: %+v", got)
	}
	rec.mu.Lock()
	bad := rec.bad
	ts, sig, body := rec.last.ts, rec.last.sig, rec.last.body
	rec.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d POSTs had a bad signature", bad)
	}

	// The PHP SDK verifies the same signature.
	php := needPHP(t)
	autoload, _ := filepath.Abs("../php/autoload.php")
	script := fmt.Sprintf(`require %q; $e = Thinkgate\Webhook::events(%q, stream_get_contents(STDIN), ['HTTP_X_THINKGATE_TIMESTAMP' => %q, 'HTTP_X_THINKGATE_SIGNATURE' => %q]); echo count($e), ' ', $e[0]['type'];
try { Thinkgate\Webhook::verify('wrong', %q, %q, 'x'); } catch (UnexpectedValueException $x) { echo ' refused'; }`, autoload, authSecret, ts, sig, ts, sig)
	cmd := exec.Command(php, "-r", script)
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	var last struct{ Events []webhook.Event }
	json.Unmarshal(body, &last)
	if want := fmt.Sprintf("%d %s refused", len(last.Events), last.Events[0].Type); err != nil || string(out) != want {
		t.Fatalf("php: %v %q, want %q", err, out, want)
	}
}

// TestWebhookReload: reload points the webhook at a new URL with a new
// secret; events after it go there, signed with the new secret.
func TestWebhookReload(t *testing.T) {
	old := &receiver{t: t}
	hsOld := httptest.NewServer(old)
	defer hsOld.Close()
	const newSecret = "rotated-secret"
	var mu sync.Mutex
	var got []webhook.Event
	hsNew := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(newSecret, r.Header.Get("X-Thinkgate-Timestamp"), r.Header.Get("X-Thinkgate-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		var b struct{ Events []webhook.Event }
		json.Unmarshal(body, &b)
		mu.Lock()
		got = append(got, b.Events...)
		mu.Unlock()
	}))
	defer hsNew.Close()
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	write := func(url, secret string) {
		os.WriteFile(cfg, []byte(mergeTOML(baseConfig, fmt.Sprintf("[events]\nsink = \"webhook\"\nwebhook_url = %q\nwebhook_secret = %q", url, secret))), 0o644)
	}
	write(hsOld.URL, authSecret)
	s := startFile(t, cfg)
	c := s.dial()
	old.wait(t, "connect before the reload", func(e webhook.Event) bool { return e.Type == "connect" && e.ClientID == c.ID })

	write(hsNew.URL, newSecret)
	s.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, func() bool {
		return strings.Contains(s.logs(), `"applied":["events.webhook_url","events.webhook_secret"]`)
	})
	c.WriteText("after the reload")
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range got {
			if e.Type == "message" && e.Data == "after the reload" {
				return true
			}
		}
		return false
	})
	if n := len(old.find(func(e webhook.Event) bool { return e.Type == "message" })); n != 0 {
		t.Fatalf("the old URL still got %d messages", n)
	}
}
