package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestInbox: a sendToUid with store to a uid with no client is kept; when
// the uid gets a client (bound by the backend) the messages arrive, oldest
// first, once; getInboxCount and clearInbox count and drop them; a send to
// a uid that is online, or without store, is not kept.
func TestInbox(t *testing.T) {
	s := start(t, "[inbox]\nsize = 3\nuids = \"vip-\"")
	for i := 1; i <= 4; i++ {
		if n := s.call("sendToUid", map[string]any{"uid": "away", "data": fmt.Sprint("m", i), "store": true}); n != 0.0 {
			t.Fatalf("sendToUid to nobody reached %v", n)
		}
	}
	s.call("sendToUid", map[string]any{"uid": "away", "data": "not kept"})
	s.call("sendToUid", map[string]any{"uid": "vip-1", "data": "kept by config"})
	if n := s.call("getInboxCount", map[string]any{"uid": "away"}); n != 3.0 {
		t.Fatalf("away has %v waiting, want 3 (inbox.size)", n)
	}
	if n := s.call("clearInbox", map[string]any{"uid": "vip-1"}); n != 1.0 {
		t.Fatalf("cleared %v, want 1", n)
	}
	c := s.dial()
	s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "away"})
	for _, want := range []string{"m2", "m3", "m4"} {
		if got := c.read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.silent(300 * time.Millisecond)
	if n := s.call("getInboxCount", map[string]any{"uid": "away"}); n != 0.0 {
		t.Fatalf("%v still waiting after delivery", n)
	}
	if n := s.call("sendToUid", map[string]any{"uid": "away", "data": "live", "store": true}); n != 1.0 || c.read() != "live" {
		t.Fatal("a send to an online uid")
	}
	if n := s.call("getInboxCount", map[string]any{"uid": "away"}); n != 0.0 {
		t.Fatalf("a delivered send was kept too: %v", n)
	}
	// A second client of the uid gets nothing again.
	d := s.dial()
	s.call("bindUid", map[string]any{"client_id": d.ID, "uid": "away"})
	d.silent(300 * time.Millisecond)
}

// TestInboxFromPHP: Thinkgate\Gateway keeps, counts and clears, inside a
// worker (over its pipe) and from a plain php-cli script (the HTTP API).
func TestInboxFromPHP(t *testing.T) {
	s, base := startApp(t, "")
	_, body := get(t, base+"/inbox?uid=zed")
	var got struct{ Sent, Waiting, Cleared int }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Sent != 0 || got.Waiting != 2 || got.Cleared != 0 {
		t.Fatalf("in a worker: %s", body)
	}
	php := needPHP(t)
	autoload, _ := filepath.Abs("../php/autoload.php")
	script := fmt.Sprintf(`<?php
require %q;
use Thinkgate\Gateway;
echo json_encode([Gateway::getInboxCount('zed'), Gateway::sendToUid('zed', 'kept 3', true), Gateway::getInboxCount('zed'), Gateway::clearInbox('zed'), Gateway::getInboxCount('zed')]), "\n";
`, autoload)
	file := filepath.Join(t.TempDir(), "cron.php")
	os.WriteFile(file, []byte(script), 0o644)
	cmd := exec.Command(php, file)
	cmd.Env = append(os.Environ(), "THINKGATE_API=http://"+s.addr("api"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "[2,0,3,3,0]\n" {
		t.Fatalf("php: %v %q", err, out)
	}
}
