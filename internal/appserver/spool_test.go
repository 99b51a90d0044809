package appserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrepareSpool: the spool is made private, emptied of stale uploads
// only (nothing else in it is touched), and a spool path that is a
// symbolic link (to a directory another user could choose) is not used.
func TestPrepareSpool(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "spool")
	got, n, err := PrepareSpool(dir)
	if err != nil || got != dir || n != 0 {
		t.Fatalf("fresh: %q %d %v", got, n, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, want 0700", fi.Mode().Perm())
	}
	for _, name := range []string{spoolPrefix + "1", spoolPrefix + "2", "keep.txt"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	if got, n, err = PrepareSpool(dir); err != nil || got != dir || n != 2 {
		t.Fatalf("stale: %q %d %v", got, n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.txt")); err != nil {
		t.Fatal("a file that is not a spooled upload was removed")
	}
	elsewhere := t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, spoolPrefix+"victim"), []byte("x"), 0o600)
	link := filepath.Join(base, "linked")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Skip(err)
	}
	got, _, err = PrepareSpool(link)
	if err != nil || got == link || !strings.HasPrefix(filepath.Base(got), "linked-") {
		t.Fatalf("a symlinked spool: %q %v, want a fresh directory", got, err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, spoolPrefix+"victim")); err != nil {
		t.Fatal("a file behind the link was removed")
	}
}
