package phpapp

import (
	"os"
	"path/filepath"
	"testing"
)

func TestThinkPHPDebugFromEnv(t *testing.T) {
	cases := map[string]bool{
		"APP_DEBUG = true\n":                true,
		"APP_DEBUG=1\nDB_TYPE = mysql\n":    true,
		"[APP]\nDEBUG = true\n[DATABASE]\n": true,
		"APP_DEBUG = false\n":               false,
		"[DATABASE]\nDEBUG = true\n":        false,
		"# nothing\n":                       false,
	}
	for env, want := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644)
		if got := ThinkPHPDebug(dir); got != want {
			t.Errorf("%q: %v, want %v", env, got, want)
		}
	}
	if ThinkPHPDebug(t.TempDir()) {
		t.Error("no .env means no debug")
	}
}
