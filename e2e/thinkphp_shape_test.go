package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
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
	for i := 0; i < 4; i++ { // route middleware from config/route.php, on every request of both workers
		step("anonymous secret", anon.do(t, "GET", base+"/secret", nil, nil))
		step("alice secret", alice.do(t, "GET", base+"/secret", nil, nil))
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
	s, base := tpShapeThinkgate(t, dirTG, "")
	got := tpShapeScenario(t, base)
	// thinkgate says it found ThinkPHP: in the start log and in status.
	if !strings.Contains(s.logs(), "ThinkPHP detected; served through the ThinkPHP adapter") {
		t.Errorf("the start log does not say ThinkPHP was detected:\n%s", s.logs())
	}
	resp, err := http.Get("http://" + s.addr("api") + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Listeners map[string]struct {
			PHP struct{ Adapter, Framework string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if php := st.Listeners["http"].PHP; php.Adapter != "thinkphp" || php.Framework == "" {
		t.Errorf("status says the PHP app is %+v, want the ThinkPHP adapter and its version", php)
	}
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
		"_method": `body="DELETE"`, "root route loads": `{\"root\":1}`, "anonymous secret": `401 `,
		"alice secret": `body="the secret of alice"`,
	}
	// The log names the request each entry came from (the error of /nope/x).
	for dir, server := range map[string]string{dirPHP: "php -S", dirTG: "thinkgate"} {
		b, _ := os.ReadFile(filepath.Join(dir, "runtime", "log", "app.log"))
		if !strings.Contains(string(b), "/nope/x [error] controller not exists") {
			t.Errorf("%s's log does not name the request of its error:\n%s", server, b)
		}
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

// tpShapeStartFails runs `thinkgate start` on dir with env added, expects it
// to exit with an error, and returns what it printed.
func tpShapeStartFails(t *testing.T, dir string, env ...string) string {
	t.Helper()
	needPHP(t)
	path := filepath.Join(t.TempDir(), "t.toml")
	cfg := mergeTOML(baseConfig, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nworkers = 1\nboot_timeout = \"10s\"", dir))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "start", "-c", path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("thinkgate started; want a boot failure. Output:\n%s", out)
	}
	return string(out)
}

// TestThinkPHPShapeBootFailureShowsError: the app turns display_errors off
// (APP_DEBUG is off), yet a boot that throws, dies of a fatal error or
// exits makes `thinkgate start` fail with PHP's own message, file and line.
func TestThinkPHPShapeBootFailureShowsError(t *testing.T) {
	for _, c := range []struct {
		name string
		env  string
		want []string
	}{
		{"exception", "FIXTURE_BOOT_FAIL=throw", []string{"RuntimeException: license server unreachable", "LicenseService.php:"}},
		{"fatal", "FIXTURE_BOOT_FAIL=fatal", []string{"PHP fatal error: Allowed memory size", "LicenseService.php:"}},
		{"exit", "FIXTURE_BOOT_FAIL=exit", []string{"ended the process while booting"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := tpShapeStartFails(t, tpShapeDir(t), c.env)
			last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
			for _, w := range c.want {
				if !strings.Contains(last, w) {
					t.Errorf("the start failure does not say %q:\n%s", w, last)
				}
			}
		})
	}
}

// TestThinkPHPShapeFrontControllerWithoutRun: a public/index.php that never
// calls $http->run() cannot be booted as php -S would: thinkgate refuses to
// start, naming the file and what to do, instead of serving a half-booted app.
func TestThinkPHPShapeFrontControllerWithoutRun(t *testing.T) {
	dir := tpShapeDir(t)
	index := filepath.Join(dir, "public", "index.php")
	src := "<?php\nnamespace think;\nrequire __DIR__ . '/../vendor/autoload.php';\n$app = new App();\n$app->initialize();\necho 'custom dispatch';\n"
	if err := os.WriteFile(index, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tpShapeStartFails(t, dir)
	for _, w := range []string{index + " finished without calling $http->run()", "app/service.php"} {
		if !strings.Contains(out, w) {
			t.Errorf("the start failure does not say %q:\n%s", w, out)
		}
	}
}

// TestThinkPHPShapePreloadOff: with route preloading off (by its older
// environment name, THINKGATE_TP_PRELOAD=0), route files load on every
// request as under php -S, and the middleware services added at boot
// (session, access control) still guard every request.
func TestThinkPHPShapePreloadOff(t *testing.T) {
	t.Setenv("THINKGATE_TP_PRELOAD", "0")
	_, base := tpShapeThinkgate(t, tpShapeDir(t), "workers = 1")
	anon, root := newBrowser(), newBrowser()
	if s := anon.do(t, "GET", base+"/users", nil, nil); s.status != 302 || s.header.Get("Location") != "/login?next=/users" {
		t.Fatalf("anonymous user list: %s", s)
	}
	root.do(t, "POST", base+"/login", url.Values{"user": {"root"}}, nil)
	if s := root.do(t, "GET", base+"/admin/dash", nil, nil); s.body != "admin dashboard for root" || s.header.Get("X-App") != "admin" {
		t.Fatalf("admin page: %s", s)
	}
	first, second := anon.do(t, "GET", base+"/loads", nil, nil), anon.do(t, "GET", base+"/loads", nil, nil)
	if first.body == second.body || !strings.HasPrefix(second.body, `{"root":`) {
		t.Fatalf("route files not loaded per request: %s then %s", first.body, second.body)
	}
}

// TestThinkPHPShapeDebugModeOneWorker: a project whose .env turns APP_DEBUG
// on gets hot reload and, with php.workers unset, one worker, so that two
// workers never compile the same template at once.
func TestThinkPHPShapeDebugModeOneWorker(t *testing.T) {
	dir := tpShapeDir(t)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("APP_DEBUG = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	needPHP(t)
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nworkers = 0", dir))
	if !strings.Contains(s.logs(), `"msg":"php workers ready","workers":1,`) {
		t.Fatalf("debug mode did not run one worker:\n%s", s.logs())
	}
	if _, body := get(t, "http://"+s.addr("http")+"/hello/dev"); body != "hello dev" {
		t.Fatalf("served %q", body)
	}
}

// TestThinkPHPShapeStaticTypes: static files under public/ get the
// Content-Type php -S gives them, whatever /etc/mime.types says.
func TestThinkPHPShapeStaticTypes(t *testing.T) {
	dirPHP, dirTG := tpShapeDir(t), tpShapeDir(t)
	php := phpDevServer(t, dirPHP)
	_, tg := tpShapeThinkgate(t, dirTG, "workers = 1")
	var files []string
	filepath.WalkDir(filepath.Join(dirPHP, "public"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".php") {
			rel, _ := filepath.Rel(filepath.Join(dirPHP, "public"), p)
			files = append(files, "/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("fixture assets: %v", files)
	}
	b := newBrowser()
	for _, f := range files {
		want, got := b.do(t, "GET", php+f, nil, nil), b.do(t, "GET", tg+f, nil, nil)
		if got.status != 200 || got.body != want.body || got.header.Get("Content-Type") != want.header.Get("Content-Type") {
			t.Errorf("%s: thinkgate %d %q, php -S %d %q", f, got.status, got.header.Get("Content-Type"), want.status, want.header.Get("Content-Type"))
		}
	}
}

// TestThinkPHPShapeBootHasNoClientRequest: the app boots before any client
// and without one, so a service that decides from the request in register()
// (ApiModeService reads an api-token header) decides once, on an empty
// request, even when the first requests carry the header; that decision is
// documented as boot-time (docs/resident-php.md).
func TestThinkPHPShapeBootHasNoClientRequest(t *testing.T) {
	_, base := tpShapeThinkgate(t, tpShapeDir(t), "")
	b := newBrowser()
	for i := 0; i < 4; i++ { // the first requests of both workers
		if s := b.do(t, "GET", base+"/apimode", nil, map[string]string{"api-token": "t0ken"}); s.body != "session" {
			t.Fatalf("request %d with api-token: the boot-time decision is %q, want \"session\" (made without a request)", i, s.body)
		}
	}
}
