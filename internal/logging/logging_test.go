package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLevelAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tg.log")
	l, err := New("info", "text", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("first")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Info("second") // still the renamed file, as logrotate expects until told
	if err := l.Output().Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	l.Debug("third")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if strings.Contains(string(old), "hidden") || !strings.Contains(string(old), "first") || !strings.Contains(string(old), "second") {
		t.Errorf("rotated file:\n%s", old)
	}
	if !strings.Contains(string(cur), "msg=third") || strings.Contains(string(cur), "first") {
		t.Errorf("reopened file:\n%s", cur)
	}
	if err := l.SetLevel("loud"); err == nil {
		t.Error("SetLevel accepted an unknown level")
	}
}

func TestJSONToFallback(t *testing.T) {
	var buf bytes.Buffer
	l, err := New("warn", "json", "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("no")
	l.Warn("yes", "k", 1)
	if got := buf.String(); !strings.HasPrefix(got, "{") || !strings.Contains(got, `"msg":"yes"`) || strings.Contains(got, `"no"`) {
		t.Errorf("output %q", got)
	}
	if l.Output().Reopen() != nil || l.Output().Path() != "" {
		t.Error("Reopen without a file must do nothing")
	}
	if _, err := New("info", "text", filepath.Join(t.TempDir(), "missing", "x.log"), nil); err == nil {
		t.Error("a log file in a missing directory opened")
	}
}
