package appserver

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// spoolPrefix starts the name of every upload thinkgate spools.
const spoolPrefix = "thinkgate-upload-"

// PrepareSpool makes dir, thinkgate's own directory for uploads in flight,
// and empties it of uploads a previous process left behind (one killed with
// SIGKILL never deleted them). dir must be this process's alone (its name
// carries the http port, which only one process can hold). A dir that is a
// symbolic link or belongs to another user is not trusted: a fresh private
// directory is made instead. It returns the directory to use and how many
// stale uploads it removed.
func PrepareSpool(dir string) (string, int, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", 0, fmt.Errorf("upload spool %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", 0, fmt.Errorf("upload spool %s: %w", dir, err)
	}
	if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 || !ownedByMe(fi) {
		fresh, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+"-")
		if err != nil {
			return "", 0, fmt.Errorf("upload spool: %s is not a directory of this user, and no other could be made: %w", dir, err)
		}
		return fresh, 0, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", 0, fmt.Errorf("upload spool %s: %w", dir, err)
	}
	removed := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), spoolPrefix) && os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed++
		}
	}
	return dir, removed, nil
}
