package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startApp runs thinkgate with the e2e PHP app (testdata/app) on a free port.
func startApp(t *testing.T, extra string) (*server, string) {
	t.Helper()
	needPHP(t)
	app, _ := filepath.Abs("testdata/app")
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 2\n%s", app, extra))
	return s, "http://" + s.addr("http")
}

func fetch(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func get(t *testing.T, url string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", url, nil)
	return fetch(t, req)
}

func TestAppStaticFiles(t *testing.T) {
	_, base := startApp(t, "")
	resp, body := get(t, base+"/assets/style.css")
	if resp.StatusCode != 200 || body != "body { color: red; }\n" || resp.Header.Get("ETag") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("static file: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	req, _ := http.NewRequest("GET", base+"/assets/style.css", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r, _ := fetch(t, req); r.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
	req, _ = http.NewRequest("GET", base+"/assets/style.css", nil)
	req.Header.Set("Range", "bytes=0-3")
	if r, b := fetch(t, req); r.StatusCode != 206 || b != "body" {
		t.Fatalf("Range: %d %q", r.StatusCode, b)
	}
	// PHP sources, dot-files and escapes are never served as files: PHP answers.
	for _, p := range []string{"/index.php", "/.env", "/assets/../.env", "/%2e%2e/app.php"} {
		r, b := get(t, base+p)
		if strings.Contains(b, "source") || strings.Contains(b, "SECRET") || strings.Contains(b, "<?php") {
			t.Fatalf("%s leaked a file: %d %q", p, r.StatusCode, b)
		}
	}
}

func TestAppRequestsReachPHP(t *testing.T) {
	_, base := startApp(t, "")
	if r, b := get(t, base+"/hello"); r.StatusCode != 200 || b != "hello" || r.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Fatalf("hello: %d %q %v", r.StatusCode, b, r.Header)
	}
	req, _ := http.NewRequest("POST", base+"/server?a=1&b[]=2", strings.NewReader("x=1&arr[k]=v&arr[k2]=w"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test", "yes")
	_, b := fetch(t, req)
	var got struct {
		Server map[string]string
		Get    map[string]any
		Post   map[string]any
		Body   string
	}
	if err := json.Unmarshal([]byte(b), &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Server["REQUEST_METHOD"] != "POST" || got.Server["REQUEST_URI"] != "/server?a=1&b[]=2" ||
		got.Server["QUERY_STRING"] != "a=1&b[]=2" || got.Server["HTTP_X_TEST"] != "yes" ||
		got.Server["CONTENT_TYPE"] != "application/x-www-form-urlencoded" || got.Server["SCRIPT_NAME"] != "/index.php" ||
		got.Server["PHP_SELF"] != "/index.php/server" || !strings.HasPrefix(got.Server["HTTP_HOST"], "127.0.0.1:") ||
		fmt.Sprint(got.Get) != "map[a:1 b:[2]]" || fmt.Sprint(got.Post) != "map[arr:map[k:v k2:w] x:1]" ||
		got.Body != "x=1&arr[k]=v&arr[k2]=w" {
		t.Fatalf("what PHP saw: %s", b)
	}
}

// TestAppUploadRoundTrip: a multipart upload reaches PHP as $_FILES, the
// app moves it, and no temp file is left behind.
func TestAppUploadRoundTrip(t *testing.T) {
	uploads := t.TempDir()
	t.Setenv("TMPDIR", uploads) // the server's temp dir: spooled uploads land here
	_, base := startApp(t, "[http]\nmax_upload_size = 100000")
	content := bytes.Repeat([]byte("thinkgate\x00"), 5000)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("title", "report")
	mw.WriteField("tags[]", "a")
	mw.WriteField("tags[]", "b")
	fw, _ := mw.CreateFormFile("doc", "report.bin")
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r, b := fetch(t, req)
	sum := sha1.Sum(content)
	want := fmt.Sprintf(`{"name":"report.bin","type":"application/octet-stream","size":%d,"sha1":"%s","title":"report","tags":["a","b"]}`,
		len(content), hex.EncodeToString(sum[:]))
	if r.StatusCode != 200 || b != want {
		t.Fatalf("upload: %d %s\nwant %s", r.StatusCode, b, want)
	}
	// A file over max_upload_size reaches PHP with error 1 and is not kept.
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("doc", "big.bin")
	fw.Write(make([]byte, 200000))
	mw.Close()
	req, _ = http.NewRequest("POST", base+"/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if r, b := fetch(t, req); r.StatusCode != 400 || b != "no file" {
		t.Fatalf("oversize upload: %d %q", r.StatusCode, b)
	}
	time.Sleep(100 * time.Millisecond)
	left, _ := filepath.Glob(filepath.Join(uploads, "*", "thinkgate-upload-*"))
	if len(left) != 0 {
		t.Fatalf("upload temp files left behind: %v", left)
	}
}

// TestAppUploadSpoolSurvivesNoKill: an upload being received when thinkgate
// is killed with SIGKILL leaves its spooled file; the next start on the same
// port removes it and says so.
func TestAppUploadSpoolSurvivesNoKill(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	addr := freeAddr(t)
	conf := fmt.Sprintf("[http]\nlisten = %q", addr)
	s, _ := startApp(t, conf)
	// An upload whose file part has begun and stalls.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	part := "--b\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" + strings.Repeat("x", 10000)
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n%s", part)
	spooled := filepath.Join(os.Getenv("TMPDIR"), "*", "thinkgate-upload-*")
	waitUntil(t, "the upload spooled", func() bool { m, _ := filepath.Glob(spooled); return len(m) == 1 })
	s.cmd.Process.Kill()
	s.exit <- <-s.exit // left for the cleanup, which waits for it
	if m, _ := filepath.Glob(spooled); len(m) != 1 {
		t.Fatalf("after SIGKILL the spooled upload is gone already (%v): the test proves nothing", m)
	}
	s2, _ := startApp(t, conf)
	if m, _ := filepath.Glob(spooled); len(m) != 0 {
		t.Fatalf("the upload a killed process left is still there: %v", m)
	}
	if !strings.Contains(s2.logs(), "removed uploads a previous process left behind") {
		t.Fatalf("the start does not say it removed it:\n%s", s2.logs())
	}
}

func TestAppStreamsSSE(t *testing.T) {
	_, base := startApp(t, "")
	resp, err := http.Get(base + "/stream?n=3&gap=400")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("headers %v", resp.Header)
	}
	r := bufio.NewReader(resp.Body)
	start := time.Now()
	first, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	firstAt := time.Since(start)
	rest, _ := io.ReadAll(r)
	total := time.Since(start)
	if first != "data: 1\n" || string(rest) != "\ndata: 2\n\ndata: 3\n\n" {
		t.Fatalf("stream: %q %q", first, rest)
	}
	if total-firstAt < 600*time.Millisecond {
		t.Fatalf("first event came %s before the end: not streamed", total-firstAt)
	}
}

func TestAppFailuresCostOneRequest(t *testing.T) {
	_, base := startApp(t, "[php]\nrequest_timeout = \"500ms\"\nworkers = 1")
	if r, b := get(t, base+"/exit"); r.StatusCode != 200 || b != "partial output before exit" {
		t.Fatalf("exit: %d %q", r.StatusCode, b)
	}
	if r, _ := get(t, base+"/fatal"); r.StatusCode != 500 {
		t.Fatalf("fatal: %d", r.StatusCode)
	}
	if r, _ := get(t, base+"/sleep?ms=3000"); r.StatusCode != 504 {
		t.Fatalf("timeout: %d", r.StatusCode)
	}
	if r, b := get(t, base+"/hello"); r.StatusCode != 200 || b != "hello" {
		t.Fatalf("after failures: %d %q", r.StatusCode, b)
	}
}

// TestAppReloadUnderLoad: SIGUSR1 replaces every worker while requests keep
// coming, and none of them fails.
func TestAppReloadUnderLoad(t *testing.T) {
	s, base := startApp(t, "")
	before := map[string]bool{}
	for range 6 {
		_, b := get(t, base+"/booted")
		before[b] = true
	}
	var failed, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(base + "/sleep?ms=5")
				if err != nil {
					failed.Add(1)
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "slept" {
						failed.Add(1)
					}
				}
				served.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "php workers reloaded") })
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || served.Load() < 50 {
		t.Fatalf("%d of %d requests failed during the reload", failed.Load(), served.Load())
	}
	for range 6 {
		if _, b := get(t, base+"/booted"); before[b] {
			t.Fatal("a worker from before the reload still serves")
		}
	}
}

func TestAppBrokenAtStartExitsWithPHPError(t *testing.T) {
	needPHP(t)
	app, _ := filepath.Abs("testdata/app")
	broken := filepath.Join(t.TempDir(), "broken")
	os.WriteFile(broken, nil, 0o644)
	path := filepath.Join(t.TempDir(), "t.toml")
	os.WriteFile(path, []byte(mergeTOML(baseConfig, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 1\nboot_timeout = \"5s\"", app))), 0o644)
	cmd := exec.Command(binary, "start", "-c", path)
	cmd.Env = append(os.Environ(), "FIXTURE_BROKEN_FILE="+broken)
	out, err := cmd.CombinedOutput()
	last := strings.TrimSpace(string(out))
	if i := strings.LastIndex(last, "\n"); i >= 0 {
		last = last[i+1:]
	}
	if err == nil || !strings.HasPrefix(last, "thinkgate: php: ") || !strings.Contains(last, "Parse error") {
		t.Fatalf("exit %v, last line %q", err, last)
	}
}

// TestAppHotReload: with -watch, saving a PHP file of the app reloads the
// workers and the log names the file.
func TestAppHotReload(t *testing.T) {
	needPHP(t)
	app := t.TempDir()
	fixture, _ := filepath.Abs("../php/tests/fixture_app.php")
	os.WriteFile(filepath.Join(app, "app.php"), []byte(fmt.Sprintf("<?php\nreturn require %q;\n", fixture)), 0o644)
	os.MkdirAll(filepath.Join(app, "app/controller"), 0o755)
	controller := filepath.Join(app, "app/controller/Index.php")
	os.WriteFile(controller, []byte("<?php\n"), 0o644)
	s := start(t, fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 1\nwatch = true", app))
	base := "http://" + s.addr("http")
	_, before := get(t, base+"/booted")
	time.Sleep(300 * time.Millisecond) // let the watch start
	os.WriteFile(controller, []byte("<?php // edited\n"), 0o644)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "php workers reloaded") })
	if !strings.Contains(s.logs(), `"file":"`+controller+`"`) {
		t.Fatalf("the log does not name the changed file:\n%s", s.logs())
	}
	if _, after := get(t, base+"/booted"); after == before {
		t.Fatal("the worker was not replaced after the edit")
	}
}

// TestAppSlowReaderHoldsNoWorker: clients that ask for a large page and
// then read nothing hold their own connections only. The one worker is free
// as soon as PHP has answered, so another request is served at once (it
// used to wait for the worker and get 503 after php.queue_timeout).
func TestAppSlowReaderHoldsNoWorker(t *testing.T) {
	_, base := startApp(t, "workers = 1\nqueue_timeout = \"2s\"")
	addr := strings.TrimPrefix(base, "http://")
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /big?mb=8 HTTP/1.1\r\nHost: x\r\n\r\n")
		head := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, head); err != nil || !strings.HasPrefix(string(head), "HTTP/1.1 200") {
			t.Fatalf("slow client %d: %q %v", i, head, err)
		}
		// ...and reads no more: 8 MiB cannot fit in the socket buffers.
	}
	resp, body := get(t, base+"/hello")
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("a request while two clients read slowly: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, base+"/big?mb=1")
	if resp.ContentLength != 1<<20 {
		t.Fatalf("a whole response goes out with Content-Length: %d", resp.ContentLength)
	}
}

// TestAppRequestWithBothLengthsClosesConnection: a request with both
// Content-Length and Transfer-Encoding is answered and its connection
// closed, so what follows its chunked body (a smuggled request) is never
// read as a request (RFC 9112 section 6.1).
func TestAppRequestWithBothLengthsClosesConnection(t *testing.T) {
	_, base := startApp(t, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "POST /server HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the connection was not closed: %v (read %q)", err, all)
	}
	if n := strings.Count(string(all), "HTTP/1.1 "); n != 1 || !strings.Contains(string(all), "Connection: close") {
		t.Fatalf("want one response and a closed connection, got %d responses:\n%s", n, all)
	}
}

// TestAppNeverServesPHPSourceOrEscapes: files PHP would run (.phtml, .phar,
// .php5 ...) and .inc are never sent as source, and a symbolic link out of
// the document root is not followed unless http.follow_symlinks is on.
func TestAppNeverServesPHPSourceOrEscapes(t *testing.T) {
	public, outside := t.TempDir(), t.TempDir()
	for _, name := range []string{"a.phtml", "a.PHAR", "a.php5", "a.pht", "a.phps", "config.inc"} {
		os.WriteFile(filepath.Join(public, name), []byte("<?php $secret = 1;"), 0o644)
	}
	os.WriteFile(filepath.Join(public, "ok.txt"), []byte("fine"), 0o644)
	os.WriteFile(filepath.Join(outside, "passwd"), []byte("secret outside"), 0o644)
	os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(public, "leak.txt"))
	os.Symlink(outside, filepath.Join(public, "storage"))
	for _, follow := range []bool{false, true} {
		_, base := startApp(t, fmt.Sprintf("public = %q\n[http]\nfollow_symlinks = %v", public, follow))
		if _, body := get(t, base+"/ok.txt"); body != "fine" {
			t.Fatalf("a plain file: %q", body)
		}
		for _, name := range []string{"a.phtml", "a.PHAR", "a.php5", "a.pht", "a.phps", "config.inc"} {
			if _, body := get(t, base+"/"+name); strings.Contains(body, "$secret") {
				t.Errorf("/%s served as source: %q", name, body)
			}
		}
		for _, p := range []string{"/leak.txt", "/storage/passwd"} {
			_, body := get(t, base+p)
			if got := body == "secret outside"; got != follow {
				t.Errorf("follow_symlinks = %v: %s answered %q", follow, p, body)
			}
		}
	}
}

// TestAppMemoryAndResponseCaps: workers run with php.memory_limit (php-cli
// has none), so a request allocating 1 GiB gets 500 and costs one worker;
// a whole response over php.max_response gets 502 saying so, and the log
// names the key. The next request is served either way.
func TestAppMemoryAndResponseCaps(t *testing.T) {
	s, base := startApp(t, "workers = 1\nmax_response = 1048576")
	if resp, body := get(t, base+"/hog?mb=1024"); resp.StatusCode != 500 || strings.Contains(body, "allocated") {
		t.Fatalf("1 GiB under the default memory_limit: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, base+"/hog?mb=16"); resp.StatusCode != 200 || body != "allocated 16777216" {
		t.Fatalf("16 MiB: %d %q", resp.StatusCode, body)
	}
	resp, body := get(t, base+"/big?mb=2")
	if resp.StatusCode != 502 || !strings.Contains(body, "larger than php.max_response (1048576 bytes)") {
		t.Fatalf("a 2 MiB response over a 1 MiB cap: %d %q", resp.StatusCode, body)
	}
	waitUntil(t, "a log line naming php.max_response", func() bool {
		return strings.Contains(s.logs(), `"php.max_response":1048576`)
	})
	if resp, body := get(t, base+"/hello"); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("after both: %d %q", resp.StatusCode, body)
	}
}

// TestAppSlowBodiesCannotTakeEveryDescriptor: with 256 open files, 300
// clients that send a request's headers and never its body take at most
// http.max_connections (a quarter of the limit) descriptors; the WebSocket
// and API listeners keep accepting, and once http.read_timeout has passed
// the app answers again.
func TestAppSlowBodiesCannotTakeEveryDescriptor(t *testing.T) {
	needPHP(t)
	app, _ := filepath.Abs("testdata/app")
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	os.WriteFile(cfg, []byte(mergeTOML(baseConfig, fmt.Sprintf(
		"[http]\nlisten = \"127.0.0.1:0\"\nread_timeout = \"3s\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 2", app))), 0o644)
	s := startWrapped(t, cfg, "bash", "-c", `ulimit -n 256 && exec "$0" "$@"`)
	base := "http://" + s.addr("http")
	var slow []net.Conn
	for range 300 {
		c, err := net.Dial("tcp", s.addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprint(c, "POST /server HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n")
		slow = append(slow, c)
	}
	// A WebSocket client still gets in (and gets its init message), and the API still answers.
	s.dial()
	if n := s.call("getAllClientIdCount", nil); n != float64(1) {
		t.Fatalf("getAllClientIdCount = %v, want 1", n)
	}
	// The first of them is cut off once http.read_timeout (3 s) has passed.
	start := time.Now()
	slow[0].SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.ReadAll(slow[0]); err != nil {
		t.Fatalf("a client that never sent its body was not cut off: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cut off after %v; http.read_timeout is 3s", d)
	}
	for _, c := range slow {
		c.Close()
	}
	waitUntil(t, "the app to answer again", func() bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(base + "/hello")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	waitUntil(t, "a log line about the http connection limit", func() bool {
		return strings.Contains(s.logs(), "http connection limit reached")
	})
}

// TestAppOverTCPChannel: with php.channel = "tcp" (what Windows uses, where
// a worker cannot be given extra descriptors) the app is served the same:
// a page, a streamed response, a worker that exits replaced.
func TestAppOverTCPChannel(t *testing.T) {
	s, base := startApp(t, "[php]\nchannel = \"tcp\"\nworkers = 1")
	if r, b := get(t, base+"/hello"); r.StatusCode != 200 || !strings.Contains(b, "hello") {
		t.Fatalf("/hello over the tcp channel: %d %q", r.StatusCode, b)
	}
	if r, b := get(t, base+"/stream?n=2&gap=10"); r.StatusCode != 200 || b != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("a stream over the tcp channel: %d %q", r.StatusCode, b)
	}
	if r, b := get(t, base+"/exit"); r.StatusCode != 200 || b != "partial output before exit" {
		t.Fatalf("/exit: %d %q", r.StatusCode, b)
	}
	if r, _ := get(t, base+"/hello"); r.StatusCode != 200 {
		t.Fatalf("after exit(), the replacement worker (over tcp) answered %d\n%s", r.StatusCode, s.logs())
	}
}
