// Package phpsdk embeds thinkgate's PHP SDK (the worker runtime and its
// adapters) so that the binary alone can start PHP workers.
package phpsdk

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed worker.php autoload.php src/*.php src/ThinkPHP/*.php src/ThinkPHP/shim/*.php
var files embed.FS

// Install writes the SDK into a directory under base named after its
// content, so different versions never mix, and returns the path of
// worker.php. An existing copy is reused.
func Install(base string) (string, error) {
	h := sha256.New()
	var names []string
	fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := files.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
			names = append(names, p)
		}
		return nil
	})
	dir := filepath.Join(base, "thinkgate-php-"+hex.EncodeToString(h.Sum(nil))[:12])
	worker := filepath.Join(dir, "worker.php")
	if _, err := os.Stat(worker); err == nil {
		return worker, nil
	}
	tmp, err := os.MkdirTemp(base, ".thinkgate-php-")
	if err != nil {
		return "", fmt.Errorf("install php sdk: %w", err)
	}
	for _, p := range names {
		b, _ := files.ReadFile(p)
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("install php sdk: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", fmt.Errorf("install php sdk: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil { // another process won the race: use its copy
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(worker); statErr != nil {
			return "", fmt.Errorf("install php sdk: %w", err)
		}
	}
	return worker, nil
}
