package control

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WritePid writes the current process id to path (created with its
// directory; replaced atomically so a reader never sees half a number).
func WritePid(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// ReadPid reads the pid in path; a missing file gives an error that
// satisfies errors.Is(err, os.ErrNotExist).
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a process id: %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// RemovePid removes path if it still names this process.
func RemovePid(path string) {
	if pid, err := ReadPid(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
	}
}

// Alive reports whether a process with this pid exists.
func Alive(pid int) bool { return alive(pid) }
