package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDefaultsAreValidAndMatchDesign(t *testing.T) {
	cfg, err := Load("", false, nil)
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.WS.Listen != "0.0.0.0:2828" || cfg.API.Listen != "127.0.0.1:2829" || cfg.Text.Listen != "127.0.0.1:5678" {
		t.Fatalf("default listeners differ from the README's listener table: %+v", cfg)
	}
	if cfg.Heartbeat.Timeout.Duration != 120*time.Second || cfg.WS.MaxSendBuffer != 1<<20 || cfg.WS.MaxMessageSize != 64<<10 {
		t.Fatalf("default limits differ from the issue: %+v", cfg)
	}
}

func TestMissingDefaultFileIsFineButNamedFileIsNot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "thinkgate.toml")
	if _, err := Load(missing, false, nil); err != nil {
		t.Fatalf("missing default file: %v", err)
	}
	if _, err := Load(missing, true, nil); err == nil {
		t.Fatal("missing -c file was accepted")
	}
}

func TestFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.toml")
	os.WriteFile(path, []byte("[ws]\nlisten = \"127.0.0.1:9000\"\ninit_message = false\n[heartbeat]\ntimeout = \"3s\"\n"), 0o644)
	cfg, err := Load(path, true, []string{"THINKGATE_WS_LISTEN=127.0.0.1:9001", "THINKGATE_API_KEY=k", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WS.Listen != "127.0.0.1:9001" || cfg.WS.InitMessage || cfg.Heartbeat.Timeout.Duration != 3*time.Second || cfg.API.Key != "k" {
		t.Fatalf("file+env not applied: %+v", cfg)
	}
}

// TestOlderEnvNames: THINKGATE_TP_PRELOAD, documented before php.preload
// existed, still turns route preloading off; the new name wins over it.
func TestOlderEnvNames(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want bool
	}{
		{nil, true},
		{[]string{"THINKGATE_TP_PRELOAD=0"}, false},
		{[]string{"THINKGATE_TP_PRELOAD=0", "THINKGATE_PHP_PRELOAD=true"}, true},
	} {
		cfg, err := Load("", false, c.env)
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if cfg.PHP.Preload != c.want {
			t.Errorf("%v: php.preload = %v, want %v", c.env, cfg.PHP.Preload, c.want)
		}
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		wantPrefix string
	}{
		{"bad listen", "[ws]\nlisten = \"nope\"\n", nil, "ws.listen:"},
		{"api public no key", "[api]\nlisten = \"0.0.0.0:2829\"\n", nil, "api.listen:"},
		{"text public no key", "[text]\nlisten = \"0.0.0.0:5678\"\n", nil, "text.listen:"},
		{"zero buffer", "[ws]\nmax_send_buffer = 0\n", nil, "ws.max_send_buffer:"},
		{"bad duration", "[heartbeat]\ntimeout = \"soon\"\n", nil, "config file"},
		{"unknown key", "[ws]\nlisen = \"x\"\n", nil, "config file"},
		{"lan ip v6", "[gwcompat]\nlan_ip = \"::1\"\n", nil, "gwcompat.lan_ip:"},
		{"env bad bool", "", []string{"THINKGATE_WS_INIT_MESSAGE=maybe"}, "ws.init_message"},
		{"env unknown", "", []string{"THINKGATE_WS_NOPE=1"}, "THINKGATE_WS_NOPE"},
		{"log level", "[log]\nlevel = \"loud\"\n", nil, "log.level:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.toml")
			os.WriteFile(path, []byte(tc.file), 0o644)
			_, err := Load(path, true, tc.env)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantPrefix) {
				t.Fatalf("error %v, want prefix %q", err, tc.wantPrefix)
			}
			if tc.name == "unknown key" && !strings.Contains(err.Error(), "ws.lisen") {
				t.Fatalf("error does not name the key: %v", err)
			}
		})
	}
}

func TestPublicBackendWithKeyIsAllowed(t *testing.T) {
	cfg := Default()
	cfg.API.Listen, cfg.API.Key = "0.0.0.0:2829", "secret"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRoundTrips(t *testing.T) {
	cfg := Default()
	cfg.Heartbeat.Reply = "pong \"quoted\" <tag>"
	cfg.Heartbeat.Timeout.Duration = 90 * time.Second
	cfg.Pusher.Apps = []PusherApp{{ID: "1", Key: "k1", Secret: "s1", ClientEventRate: -1},
		{ID: "2", Key: "k2", Secret: "s2", Prefix: "two:", MaxConnections: 5, WebhookURL: "http://127.0.0.1/hook"}}
	var buf bytes.Buffer
	if err := Write(&buf, &cfg); err != nil {
		t.Fatal(err)
	}
	var back Config
	md, err := toml.Decode(buf.String(), &back)
	if err != nil {
		t.Fatalf("printed config does not parse: %v\n%s", err, buf.String())
	}
	for i := range back.Pusher.Apps { // secrets are printed masked
		if back.Pusher.Apps[i].Secret != Masked {
			t.Fatalf("app %d's secret printed as %q", i, back.Pusher.Apps[i].Secret)
		}
		back.Pusher.Apps[i].Secret = cfg.Pusher.Apps[i].Secret
	}
	if len(md.Undecoded()) != 0 || !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", back, cfg)
	}
	for _, f := range Fields(&cfg) {
		if f.Doc == "" {
			t.Errorf("%s has no doc", f.Key)
		}
	}
}

// TestWriteMasksSecrets: thinkgate config prints every secret that is set
// masked, and the password of the engine URLs; unset ones stay "".
func TestWriteMasksSecrets(t *testing.T) {
	cfg := Default()
	cfg.API.Key = "api-secret-1"
	cfg.Text.Key = "text-secret-2"
	cfg.GWCompat.Secret = "gw-secret-3"
	cfg.Auth.Secret = "jwt-secret-4"
	cfg.Events.WebhookSecret = "hook-secret-5"
	cfg.Cluster.Redis = "redis://:redis-pass-6@10.0.0.1:6379/0"
	cfg.Cluster.NATS = "nats://alice:nats-pass-7@10.0.0.2:4222"
	var buf bytes.Buffer
	if err := Write(&buf, &cfg); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, leak := range []string{"api-secret-1", "text-secret-2", "gw-secret-3", "jwt-secret-4", "hook-secret-5", "redis-pass-6", "nats-pass-7"} {
		if strings.Contains(out, leak) {
			t.Errorf("thinkgate config prints %q", leak)
		}
	}
	for _, want := range []string{`key = "********"`, `secret = "********"`, `webhook_secret = "********"`,
		`redis = "redis://:********@10.0.0.1:6379/0"`, `nats = "nats://alice:********@10.0.0.2:4222"`} {
		if !strings.Contains(out, want) {
			t.Errorf("thinkgate config lacks %s", want)
		}
	}
	var plain bytes.Buffer
	d := Default()
	Write(&plain, &d)
	if strings.Contains(plain.String(), "********") {
		t.Error("an unset secret is printed masked; it should read \"\"")
	}
}

func TestEveryKeyIsInTheConfigReference(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	for _, f := range Fields(&cfg) {
		if f.Value.IsValid() && !bytes.Contains(doc, []byte("`"+f.Key+"`")) {
			t.Errorf("docs/config.md does not document `%s`", f.Key)
		}
	}
}
