package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/token"
	"thinkgate/internal/wsclient"
)

const authSecret = "e2e-secret"

// handshakeStatus sends a WebSocket handshake for path and returns the
// status line of the answer.
func handshakeStatus(t *testing.T, addr, path string, h http.Header) string {
	t.Helper()
	status, _, _ := strings.Cut(handshakeAnswer(t, addr, path, h), "\n")
	return strings.TrimSpace(status)
}

func sign(claims map[string]any, secret string) string { return token.Sign(claims, []byte(secret)) }

// TestTokenInURL: a valid token binds the uid, joins the groups and sets the
// session at connect; bad ones get 401 at the handshake.
func TestTokenInURL(t *testing.T) {
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q", authSecret))
	tok := sign(map[string]any{"sub": "alice", "groups": []string{"room1", "room2"}, "exp": time.Now().Unix() + 60,
		"session": map[string]any{"name": "Alice"}}, authSecret)
	c := s.dialPath("/?token="+tok, nil)
	if s.call("isUidOnline", map[string]any{"uid": "alice"}) != true {
		t.Fatal("the token's uid is not online")
	}
	s.call("sendToGroup", map[string]any{"group": "room2", "data": "to room2"})
	if m := c.read(); m != "to room2" {
		t.Fatalf("group push: %q", m)
	}
	if sess := s.call("getSession", map[string]any{"client_id": c.ID}); fmt.Sprint(sess) != "map[name:Alice]" {
		t.Fatalf("session %v", sess)
	}
	// Without a token the seed's flow (init, then bindUid from the backend) still works.
	plain := s.dial()
	s.call("bindUid", map[string]any{"client_id": plain.ID, "uid": "bob"})
	if s.call("isUidOnline", map[string]any{"uid": "bob"}) != true {
		t.Fatal("a client without a token could not be bound")
	}

	good := strings.Split(tok, ".")
	tests := []struct{ name, tok string }{
		{"expired", sign(map[string]any{"sub": "alice", "exp": time.Now().Unix() - 1}, authSecret)},
		{"wrong key", sign(map[string]any{"sub": "alice"}, "other-secret")},
		{"tampered", good[0] + "." + strings.Split(sign(map[string]any{"sub": "admin"}, "x"), ".")[1] + "." + good[2]},
		{"garbage", "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := handshakeStatus(t, s.addr("ws"), "/?token="+tc.tok, nil); !strings.HasPrefix(got, "HTTP/1.1 401") {
				t.Fatalf("handshake answer %q, want 401", got)
			}
		})
	}
}

// TestReauthCannotSwitchUsers: a second auth message on a live connection
// refreshes the same uid, and is refused for another uid: the connection
// keeps its identity and its groups stay its own.
func TestReauthCannotSwitchUsers(t *testing.T) {
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q", authSecret))
	c := s.dialPath("/?token="+sign(map[string]any{"sub": "alice", "groups": []string{"alice-private"}}, authSecret), nil)
	c.WriteText(fmt.Sprintf(`{"type":"auth","token":%q}`, sign(map[string]any{"sub": "mallory", "groups": []string{"lobby"}}, authSecret)))
	if m := c.read(); !strings.Contains(m, `"type":"auth_error"`) || !strings.Contains(m, `"uid":"alice"`) || !strings.Contains(m, "reconnect to change users") {
		t.Fatalf("a token for another uid on a live connection answered %q", m)
	}
	if s.call("isUidOnline", map[string]any{"uid": "mallory"}) != false || s.call("isUidOnline", map[string]any{"uid": "alice"}) != true {
		t.Fatal("the connection switched users")
	}
	if n := s.call("getClientIdCountByGroup", map[string]any{"group": "lobby"}); n != 0.0 {
		t.Fatalf("the refused token's group has %v members", n)
	}
	// The same uid again: refreshed, with the new token's groups.
	c.WriteText(fmt.Sprintf(`{"type":"auth","token":%q}`, sign(map[string]any{"sub": "alice", "groups": []string{"lobby"}}, authSecret)))
	if m := c.read(); !strings.Contains(m, `"type":"auth_ok"`) || !strings.Contains(m, `"uid":"alice"`) {
		t.Fatalf("a refresh for the same uid answered %q", m)
	}
	s.call("sendToGroup", map[string]any{"group": "lobby", "data": "to the lobby"})
	if m := c.read(); m != "to the lobby" {
		t.Fatalf("after the refresh: %q", m)
	}
}

// TestAuthRequiredFirstMessage: with auth.required, a client without a URL
// token gets nothing and counts nowhere until its auth message; a wrong or
// missing one closes it with 4001.
func TestAuthRequiredFirstMessage(t *testing.T) {
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q\nrequired = true\ntimeout = \"1s\"", authSecret))
	c := s.dialRaw()
	s.call("sendToAll", map[string]any{"data": "not for you"})
	if n := s.call("getAllClientIdCount", map[string]any{}); n != float64(0) {
		t.Fatalf("an unauthenticated client is counted: %v", n)
	}
	c.WriteText(fmt.Sprintf(`{"type":"auth","token":%q}`, sign(map[string]any{"sub": "carol", "groups": []string{"g"}}, authSecret)))
	if m := c.read(); m != `{"type":"auth_ok","uid":"carol"}` {
		t.Fatalf("first message %q, want auth_ok (and nothing pushed before)", m)
	}
	if m := c.read(); !strings.Contains(m, `"type":"init"`) {
		t.Fatalf("second message %q, want init", m)
	}
	s.call("sendToUid", map[string]any{"uid": "carol", "data": "hi carol"})
	if m := c.read(); m != "hi carol" {
		t.Fatalf("after auth: %q", m)
	}

	closed := func(c *client, what string) {
		t.Helper()
		for {
			f, err := c.ReadFrame(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: %v, want close 4001", what, err)
			}
			if f.Op == ws.OpClose {
				if f.CloseCode() != 4001 {
					t.Fatalf("%s: close %d, want 4001", what, f.CloseCode())
				}
				return
			}
		}
	}
	silent := s.dialRaw() // never authenticates
	closed(silent, "no auth message within auth.timeout")
	chatty := s.dialRaw()
	chatty.WriteText("hello")
	closed(chatty, "a message before auth")
	wrong := s.dialRaw()
	wrong.WriteText(fmt.Sprintf(`{"type":"auth","token":%q}`, sign(map[string]any{"sub": "x"}, "bad")))
	if m := wrong.read(); !strings.Contains(m, `"type":"auth_error"`) || !strings.Contains(m, "signature") {
		t.Fatalf("bad token answer %q", m)
	}
	closed(wrong, "a bad token")
	// The URL form works here too.
	s.dialPath("/?token="+sign(map[string]any{"sub": "dave"}, authSecret), nil)
	if s.call("isUidOnline", map[string]any{"uid": "dave"}) != true {
		t.Fatal("URL token with auth.required")
	}
}

// TestOriginAllowList: browsers from other origins get 403; clients that
// send no Origin (apps) are not checked.
func TestOriginAllowList(t *testing.T) {
	s := start(t, "[auth]\norigins = \"https://app.example.com, https://admin.example.com/\"")
	for _, tc := range []struct {
		origin, want string
	}{
		{"https://app.example.com", "HTTP/1.1 101"},
		{"https://ADMIN.example.com", "HTTP/1.1 101"},
		{"https://evil.example.com", "HTTP/1.1 403"},
		{"", "HTTP/1.1 101"},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		if got := handshakeStatus(t, s.addr("ws"), "/", h); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Origin %q: %q, want %q", tc.origin, got, tc.want)
		}
	}
}

// TestPHPMintedToken: a token from the PHP SDK's Thinkgate\Token works.
func TestPHPMintedToken(t *testing.T) {
	php := needPHP(t)
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q", authSecret))
	autoload, _ := filepath.Abs("../php/autoload.php")
	out, err := exec.Command(php, "-r", fmt.Sprintf(`require %q; echo Thinkgate\Token::mint(%q, 'erin', ['vip'], 60, ['plan' => 'gold']);`, autoload, authSecret)).CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/?token="+string(out), nil)
	if err != nil {
		t.Fatalf("connecting with the PHP token: %v", err)
	}
	defer c.Close()
	c.ReadText(5 * time.Second) // init
	s.call("sendToGroup", map[string]any{"group": "vip", "data": "gold members"})
	if m, err := c.ReadText(5 * time.Second); err != nil || m != "gold members" {
		t.Fatalf("push to the token's group: %q %v", m, err)
	}
	ids := s.call("getClientIdByUid", map[string]any{"uid": "erin"}).([]any)
	if sess := s.call("getSession", map[string]any{"client_id": ids[0]}); fmt.Sprint(sess) != "map[plan:gold]" {
		t.Fatalf("session from the PHP token: %v", sess)
	}
}
