package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/testenv"
)

// browserPage connects to thinkgate the way the README tells users to, and
// reports every event to the test server with fetch.
const browserPage = `<!doctype html>
<title>thinkgate browser test</title>
<script>
function report(kind, data) {
  fetch('/report', {method: 'POST', body: JSON.stringify({kind: kind, data: data})});
}
const ws = new WebSocket('ws://%s');
ws.onopen = () => report('open', '');
ws.onmessage = (e) => {
  report('message', e.data);
  if (e.data.startsWith('{"type":"init"')) ws.send('ping');
};
ws.onclose = (e) => report('close', String(e.code));
ws.onerror = () => report('error', '');
</script>`

type browserEvent struct{ Kind, Data string }

// reports collects what a test page POSTs to /report.
type reports struct {
	t      *testing.T
	events chan browserEvent
	seen   []browserEvent
}

func newReports(t *testing.T) *reports {
	return &reports{t: t, events: make(chan browserEvent, 100)}
}

// servePage serves a test page: html at /, what it reports at /report, and
// files (path: the file on disk) beside it, until the test ends.
func (r *reports) servePage(html string, files map[string]string) string {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, html)
		case "/report":
			r.add(req)
		default:
			if f, ok := files[req.URL.Path]; ok {
				http.ServeFile(w, req, f)
				return
			}
			http.NotFound(w, req)
		}
	}))
	r.t.Cleanup(page.Close)
	return page.URL + "/"
}

// add takes one report from the page's request.
func (r *reports) add(req *http.Request) {
	var ev browserEvent
	body, _ := io.ReadAll(req.Body)
	json.Unmarshal(body, &ev)
	r.events <- ev
}

// await returns the first report matching kind and pred, failing after 30 s
// (Chromium's first start is slow on a loaded machine).
func (r *reports) await(kind string, pred func(string) bool) string {
	r.t.Helper()
	for i, ev := range r.seen {
		if ev.Kind == kind && pred(ev.Data) {
			r.seen = append(r.seen[:i], r.seen[i+1:]...)
			return ev.Data
		}
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev.Kind == kind && pred(ev.Data) {
				return ev.Data
			}
			r.seen = append(r.seen, ev)
		case <-timeout:
			r.t.Fatalf("browser never reported %s; it reported %+v", kind, r.seen)
		}
	}
}

// TestBrowser runs headless Chromium against thinkgate: the page gets its
// init message, a push bound through the API, the heartbeat reply, and a
// clean close from closeClient.
func TestBrowser(t *testing.T) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	s := start(t, "[heartbeat]\nreply = \"pong\"")

	reports := newReports(t)
	openInChromium(t, chromium, reports.servePage(fmt.Sprintf(browserPage, s.addr("ws")), nil))
	await := reports.await
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }

	init := await("message", func(s string) bool { return strings.HasPrefix(s, `{"type":"init"`) })
	var m struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(init), &m)
	if !clientIDPattern.MatchString(m.ClientID) {
		t.Fatalf("init message %q", init)
	}
	await("message", is("pong"))

	if got := s.call("bindUid", map[string]any{"client_id": m.ClientID, "uid": "u1"}); got != true {
		t.Fatalf("bindUid %v", got)
	}
	if got := s.call("sendToUid", map[string]any{"uid": "u1", "data": map[string]any{"percent": "88%"}}); got != 1.0 {
		t.Fatalf("sendToUid %v", got)
	}
	await("message", is(`{"percent":"88%"}`))
	s.call("closeClient", map[string]any{"client_id": m.ClientID, "data": "bye"})
	await("message", is("bye"))
	await("close", is("1000"))
}

// TestBrowserResidentApp: headless Chromium opens a page that the resident
// PHP app serves on the http listener; the page connects to the WebSocket
// port, gets init, POSTs its client_id to the app, which binds it with
// Thinkgate\Gateway (the GatewayWorker flow); a push to the uid then shows
// in the page, whose DOM text the page reports back to the app.
func TestBrowserResidentApp(t *testing.T) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	needPHP(t)
	app, _ := filepath.Abs("testdata/chat")
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 1", app))
	base := "http://" + s.addr("http")

	openInChromium(t, chromium, base+"/?ws="+s.addr("ws"))
	dom := func() string {
		resp, err := http.Get(base + "/dom")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitText := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // Chromium's first start is slow on a loaded machine
		for !strings.Contains(dom(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %q; its DOM text is %q", want, dom())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitText("bound")
	if got := s.call("sendToUid", map[string]any{"uid": "browser-user", "data": map[string]any{"text": "hello from the backend"}}); got != 1.0 {
		t.Fatalf("sendToUid reached %v clients", got)
	}
	waitText("boundhello from the backend")
}

// chromiumArgs are headless Chromium's flags for the tests: a profile of
// the test's own, nothing fetched from the network on its own, then extra.
func chromiumArgs(t *testing.T, extra ...string) []string {
	return append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, extra...)
}

// openInChromium opens url in headless Chromium until the test ends, and
// shows Chromium's stderr if the test failed.
func openInChromium(t *testing.T, chromium, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromium, chromiumArgs(t, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
}
