package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The tests in this file run testdata/tpshape, an app written in ThinkPHP
// 8's shape with the patterns that real ThinkPHP apps use (see its
// README.md), under php -S as `php think run` serves it and under thinkgate,
// and compare what a browser gets from each.

// tpShapeDir copies the fixture into a fresh directory: each server writes
// its sessions and logs under runtime/.
func tpShapeDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tpshape")
	if out, err := exec.Command("cp", "-r", "testdata/tpshape", dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the fixture: %v %s", err, out)
	}
	return dir
}

// phpDevServer serves dir with php -S and ThinkPHP's router script, as `php
// think run` does, and returns its base URL.
func phpDevServer(t *testing.T, dir string) string {
	t.Helper()
	php := needPHP(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(php, "-S", addr, "-t", "public", "public/router.php")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("php -S did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tpShapeThinkgate runs thinkgate in dir (a ThinkPHP project root) with two
// workers and returns it and its app's base URL.
func tpShapeThinkgate(t *testing.T, dir, extra string) (*server, string) {
	t.Helper()
	needPHP(t)
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nworkers = 2\n%s", dir, extra))
	return s, "http://" + s.addr("http")
}

// browser is one user: its own cookie jar, redirects not followed.
type browser struct{ c *http.Client }

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{&http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// seen is what a user sees of one response.
type seen struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(t *testing.T, method, u string, form url.Values, header map[string]string) seen {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return seen{resp.StatusCode, resp.Header, string(data)}
}

var (
	sessionIDs = regexp.MustCompile(`[0-9a-f]{32}`)
	cookieDate = regexp.MustCompile(`expires=[^;]+; Max-Age=\d+`)
)

// String is the response as compared between the two servers: status, the
// headers an app or browser acts on, body; session ids and cookie dates
// replaced by placeholders.
func (s seen) String() string {
	var cookies []string
	for _, c := range s.header.Values("Set-Cookie") {
		cookies = append(cookies, cookieDate.ReplaceAllString(sessionIDs.ReplaceAllString(c, "SID"), "expires=DATE; Max-Age=N"))
	}
	sort.Strings(cookies)
	return fmt.Sprintf("%d type=%q location=%q router=%q app=%q cookies=%q body=%q", s.status,
		strings.ToLower(s.header.Get("Content-Type")), s.header.Get("Location"), s.header.Get("X-Router"),
		s.header.Get("X-App"), cookies, sessionIDs.ReplaceAllString(s.body, "SID"))
}

// tpShapeScenario is a visit of the fixture by several users, in order; it
// returns what each step showed, named.
func tpShapeScenario(t *testing.T, base string) [][2]string {
	var out [][2]string
	step := func(name string, s seen) { out = append(out, [2]string{name, s.String()}) }
	anon, alice, root, other := newBrowser(), newBrowser(), newBrowser(), newBrowser()
	step("home", anon.do(t, "GET", base+"/", nil, nil))
	// A library service adds session and access control "when not in the console".
	step("anonymous user list", anon.do(t, "GET", base+"/users", nil, nil))
	step("anonymous admin page", anon.do(t, "GET", base+"/admin/dash", nil, nil))
	step("console or web", anon.do(t, "GET", base+"/console", nil, nil))
	// public/index.php binds a Route subclass and sets a static before run().
	step("front controller", anon.do(t, "GET", base+"/site", nil, nil))
	// The form's action comes from static::$app->request.
	step("login form", anon.do(t, "GET", base+"/login?next=/whoami", nil, nil))
	step("alice logs in", alice.do(t, "POST", base+"/login?next=/whoami", url.Values{"user": {"alice"}}, nil))
	step("alice who", alice.do(t, "GET", base+"/whoami", nil, nil))
	for i := 0; i < 4; i++ { // both workers
		step("another user who", other.do(t, "GET", base+"/whoami", nil, nil))
		step("alice who again", alice.do(t, "GET", base+"/whoami?n="+fmt.Sprint(i), nil, nil))
	}
	step("alice user list", alice.do(t, "GET", base+"/users", nil, nil))
	// app/admin/route/ is chosen per request by multi-app middleware.
	step("alice admin page", alice.do(t, "GET", base+"/admin/dash", nil, nil))
	step("root logs in", root.do(t, "POST", base+"/login?next=/admin/dash", url.Values{"user": {"root"}}, nil))
	for i := 0; i < 4; i++ {
		step("root admin page", root.do(t, "GET", base+"/admin/dash", nil, nil))
		step("admin route loads", root.do(t, "GET", base+"/admin/loads", nil, nil))
		step("root route loads", anon.do(t, "GET", base+"/loads", nil, nil))
	}
	step("alice logs out", alice.do(t, "GET", base+"/logout", nil, nil))
	step("alice after logout", alice.do(t, "GET", base+"/users", nil, nil))
	// Language strings a service loaded at registration.
	step("lang", anon.do(t, "GET", base+"/lang", nil, nil))
	// ThinkPHP's method override.
	step("_method", anon.do(t, "POST", base+"/method", url.Values{"_method": {"DELETE"}}, nil))
	step("method override header", anon.do(t, "POST", base+"/method", url.Values{}, map[string]string{"X-HTTP-Method-Override": "PUT"}))
	step("plain post", anon.do(t, "POST", base+"/method", url.Values{"a": {"1"}}, nil))
	// Cookies as PHP decodes them, and Set-Cookie as PHP writes it.
	step("cookies", newBrowser().do(t, "GET", base+"/cookies", nil,
		map[string]string{"Cookie": `a.b=1; z=%41+b; z=2; arr[x]=3; q="quoted"; sp ace=4`}))
	// One user's headers never reach the next request.
	for i := 0; i < 4; i++ {
		step("server with headers", newBrowser().do(t, "GET", base+"/server?x=1", nil, map[string]string{
			"Authorization": "Bearer SECRET-OF-P", "X-Forwarded-Host": "evil.example", "Referer": "http://x/secret"}))
		step("server without", newBrowser().do(t, "GET", base+"/server", nil, nil))
	}
	step("index.php path", anon.do(t, "GET", base+"/index.php/hello/x", nil, nil))
	step("s= path", anon.do(t, "GET", base+"/index.php?s=hello/y", nil, nil))
	step("route param", anon.do(t, "GET", base+"/hello/bob", nil, nil))
	step("index.php", anon.do(t, "GET", base+"/index.php", nil, nil))
	step("missing controller", anon.do(t, "GET", base+"/nope/x", nil, nil))
	return out
}

// TestThinkPHPShapeMatchesPHPServer: every step of the scenario shows the
// same under thinkgate as under php -S. The steps cover issue 13's patterns:
// web mode from the first line (services that add middleware when not in
// the console, or when the request is not CLI), the app's own front
// controller, statics that hold the booted app, route folders chosen per
// request, language strings loaded at boot, method override, cookies as PHP
// parses and writes them, and request headers that never outlive their
// request.
func TestThinkPHPShapeMatchesPHPServer(t *testing.T) {
	dirPHP, dirTG := tpShapeDir(t), tpShapeDir(t)
	want := tpShapeScenario(t, phpDevServer(t, dirPHP))
	_, base := tpShapeThinkgate(t, dirTG, "")
	got := tpShapeScenario(t, base)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s:\n  php -S:    %s\n  thinkgate: %s", want[i][0], want[i][1], got[i][1])
		}
	}
	// What the comparison stands for, said plainly on thinkgate's answers.
	must := map[string]string{
		"anonymous user list": `302 `, "console or web": `body="web"`, "front controller": `Fixture Shop via app\\common\\ShopRoute`,
		"login form": `action=\"/login?next=/whoami\"`, "another user who": `{\"session\":null,\"auth\":null`,
		"root admin page": `body="admin dashboard for root"`, "admin route loads": `{\"admin\":1}`, "lang": "欢迎",
		"_method": `body="DELETE"`, "root route loads": `{\"root\":1}`,
	}
	for _, step := range got {
		if w, ok := must[step[0]]; ok && !strings.Contains(step[1], w) {
			t.Errorf("thinkgate, %s: %s; want it to contain %s", step[0], step[1], w)
		}
		if step[0] == "server without" && (strings.Contains(step[1], "SECRET") || strings.Contains(step[1], "evil.example")) {
			t.Errorf("thinkgate, a request without headers sees another's: %s", step[1])
		}
	}
}
