package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayFacadeInWorker: PHP code in a request served by thinkgate
// pushes and queries with Thinkgate\Gateway over the worker pipe.
func TestGatewayFacadeInWorker(t *testing.T) {
	s, base := startApp(t, "")
	c := s.dial()
	s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "zoe"})
	_, body := get(t, base+"/gateway?uid=zoe")
	var got struct {
		Sent    int
		Online  bool
		IDs     []string
		Session map[string]string
		Error   string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v in %q", err, body)
	}
	if got.Sent != 1 || !got.Online || len(got.IDs) != 1 || got.IDs[0] != c.ID || got.Session["seen"] != "yes" || got.Error != "invalid_params" {
		t.Fatalf("PHP saw %+v", got)
	}
	if m := c.read(); !strings.Contains(m, `"from":"php"`) {
		t.Fatalf("client got %q", m)
	}
	// The session PHP set is the API's too.
	if sess := s.call("getSession", map[string]any{"client_id": c.ID}); fmt.Sprint(sess) != "map[seen:yes]" {
		t.Fatalf("session after PHP set it: %v", sess)
	}
}

// TestGatewayFacadeOutsideWorker: the same facade from a plain php-cli
// script (cron, a queue consumer) goes over the HTTP API, with its key.
func TestGatewayFacadeOutsideWorker(t *testing.T) {
	php := needPHP(t)
	s := start(t, "[api]\nkey = \"k1\"")
	c := s.dial()
	autoload, _ := filepath.Abs("../php/autoload.php")
	script := fmt.Sprintf(`<?php
require %q;
use Thinkgate\Gateway;
Gateway::bindUid($argv[1], 'yuri');
echo json_encode([Gateway::sendToUid('yuri', ['hello' => 'from cron']), Gateway::isUidOnline('yuri'), Gateway::getAllClientIdCount()]), "\n";
Gateway::$key = 'wrong';
try { Gateway::isOnline($argv[1]); } catch (Thinkgate\GatewayException $e) { echo $e->errorCode, "\n"; }
Gateway::$api = 'http://127.0.0.1:1';
try { Gateway::isOnline($argv[1]); } catch (Thinkgate\GatewayException $e) { echo $e->errorCode, "\n"; }
`, autoload)
	file := filepath.Join(t.TempDir(), "cron.php")
	os.WriteFile(file, []byte(script), 0o644)
	cmd := exec.Command(php, file, c.ID)
	cmd.Env = append(os.Environ(), "THINKGATE_API=http://"+s.addr("api"), "THINKGATE_API_KEY=k1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	if want := "[1,true,1]\nunauthorized\nunreachable\n"; string(out) != want {
		t.Fatalf("php printed %q, want %q", out, want)
	}
	if m := c.read(); m != `{"hello":"from cron"}` {
		t.Fatalf("client got %q", m)
	}
}
