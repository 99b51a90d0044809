package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/testenv"
	"thinkgate/internal/wsclient"
)

// devtools drives one headless Chromium page over the DevTools protocol.
type devtools struct {
	t    *testing.T
	conn *wsclient.Conn
	id   int
}

// openDevtools starts headless Chromium on url and connects to its page.
func openDevtools(t *testing.T, chromium, url string) *devtools {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromium, chromiumArgs(t, "--remote-debugging-port=0", "--window-size=1280,900", url)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				found <- u
			}
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("Chromium did not open its DevTools port")
	}
	host := strings.Split(strings.TrimPrefix(browserURL, "ws://"), "/")[0]
	var pageURL string
	for deadline := time.Now().Add(30 * time.Second); pageURL == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + host + "/json/list")
		if err != nil {
			continue
		}
		var targets []struct{ Type, URL, WebSocketDebuggerURL string }
		json.NewDecoder(resp.Body).Decode(&targets)
		resp.Body.Close()
		for _, tg := range targets {
			if tg.Type == "page" && strings.HasPrefix(tg.URL, url) {
				pageURL = tg.WebSocketDebuggerURL
			}
		}
	}
	if pageURL == "" {
		t.Fatal("no Chromium page for " + url)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, err := wsclient.Dial(dctx, pageURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &devtools{t: t, conn: conn}
}

// call sends one DevTools command and returns its result.
func (d *devtools) call(method string, params any) json.RawMessage {
	d.t.Helper()
	d.id++
	b, _ := json.Marshal(map[string]any{"id": d.id, "method": method, "params": params})
	if err := d.conn.WriteText(string(b)); err != nil {
		d.t.Fatal(err)
	}
	for {
		m, err := d.conn.ReadText(30 * time.Second)
		if err != nil {
			d.t.Fatalf("%s: %v", method, err)
		}
		var r struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct{ Message string }
		}
		json.Unmarshal([]byte(m), &r)
		if r.ID == d.id {
			if r.Error != nil {
				d.t.Fatalf("%s: %s", method, r.Error.Message)
			}
			return r.Result
		}
	}
}

// eval runs a JavaScript expression in the page (awaiting a promise) and
// returns its value as a string.
func (d *devtools) eval(expr string) string {
	d.t.Helper()
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
	}
	json.Unmarshal(d.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}), &r)
	return fmt.Sprint(r.Result.Value)
}

// waitText waits until the element's text contains want.
func (d *devtools) waitText(id, want string) {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := d.eval(fmt.Sprintf("(document.getElementById(%q) || {}).textContent || ''", id))
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("#%s shows %q, want %q", id, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page at width x height to dir/name.png.
func (d *devtools) screenshot(dir, name string, width, height int, mobile bool) {
	d.t.Helper()
	d.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
	time.Sleep(1500 * time.Millisecond) // a refresh at the new width
	var r struct{ Data string }
	json.Unmarshal(d.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}), &r)
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(b) < 1000 {
		d.t.Fatalf("screenshot %s: %d bytes, %v", name, len(b), err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// TestAdminPage: after real traffic, the admin page in headless Chromium
// shows the right counts, the client events and the configuration with
// secrets masked; its send box reaches a client and its lookup finds a
// uid's client and group. Screenshots at desktop and phone widths go to
// $ADMIN_SCREENSHOTS (default: the test's temp dir) for review.
func TestAdminPage(t *testing.T) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	s, base := startApp(t, "[auth]\nsecret = \"jwt-secret-not-shown\"\n[php]\nworkers = 1")
	get(t, base+"/hello")
	alice, bob, carol := s.dial(), s.dial(), s.dial()
	s.call("bindUid", map[string]any{"client_id": alice.ID, "uid": "alice"})
	s.call("joinGroup", map[string]any{"client_id": alice.ID, "group": "room"})
	s.call("joinGroup", map[string]any{"client_id": bob.ID, "group": "room"})
	s.call("setSession", map[string]any{"client_id": alice.ID, "session": map[string]any{"plan": "gold"}})
	bob.WriteText("hello admin")
	_ = carol

	page := openDevtools(t, chromium, "http://"+s.addr("api")+"/admin")
	page.waitText("clients", "3")
	page.waitText("uids", "1")
	page.waitText("groups", "1")
	page.waitText("events", "hello admin")
	page.waitText("config", "[ws]")
	page.waitText("php-summary", "1 workers · served 1")
	page.waitText("workers", "idle")
	if cfg := page.eval("document.getElementById('config').textContent"); strings.Contains(cfg, "jwt-secret-not-shown") || !strings.Contains(cfg, `secret = "********"`) {
		t.Fatalf("the page's configuration shows the secret, or no mask:\n%s", cfg)
	}

	// The send box reaches alice's client.
	page.eval(`(() => {
		document.getElementById('send-kind').value = 'uid';
		document.getElementById('send-to').value = 'alice';
		document.getElementById('send-data').value = '{"from":"admin"}';
		document.getElementById('send-go').click();
	})()`)
	if m, err := alice.ReadText(10 * time.Second); err != nil || m != `{"from":"admin"}` {
		t.Fatalf("alice got %q %v from the send box", m, err)
	}
	page.waitText("send-result", "sent to 1 client")

	// The lookup finds alice's client, her group and her session.
	page.eval(`(() => {
		document.getElementById('lookup-kind').value = 'uid';
		document.getElementById('lookup-id').value = 'alice';
		document.getElementById('lookup-go').click();
	})()`)
	page.waitText("lookup-result", alice.ID)
	page.waitText("lookup-result", `"room"`)
	page.waitText("lookup-result", `"gold"`)

	dir := os.Getenv("ADMIN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	page.screenshot(dir, "admin-desktop", 1280, 900, false)
	page.screenshot(dir, "admin-phone", 390, 844, true)
}

// TestAdminPageNeedsTheKey: with api.key set, /admin asks for HTTP Basic
// credentials (the key is the password) and every call the page makes
// works with them.
func TestAdminPageNeedsTheKey(t *testing.T) {
	s := start(t, "[api]\nkey = \"admin-key\"")
	get := func(path, user, pass string) (int, string, string) {
		req, _ := http.NewRequest("GET", "http://"+s.addr("api")+path, nil)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
	}
	if code, auth, _ := get("/admin", "", ""); code != 401 || !strings.HasPrefix(auth, "Basic ") {
		t.Fatalf("/admin without credentials: %d %q, want 401 asking for Basic", code, auth)
	}
	if code, _, _ := get("/admin", "admin", "wrong"); code != 401 {
		t.Fatalf("/admin with a wrong password: %d", code)
	}
	for _, path := range []string{"/admin", "/admin/events", "/admin/config", "/status"} {
		if code, _, body := get(path, "admin", "admin-key"); code != 200 || strings.Contains(body, "admin-key") {
			t.Fatalf("%s with the key as the password: %d (or the key shows in it)", path, code)
		}
	}
}
