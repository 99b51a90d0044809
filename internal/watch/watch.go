// Package watch reports changes to an app's source files, for hot reload in
// development: inotify (through fsnotify) where the system has it, polling
// file times where it does not. Changes are debounced, so saving ten files
// at once triggers one reload.
package watch

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options say what to watch.
type Options struct {
	Root     string
	Ignore   []string      // directory names skipped anywhere (runtime, public, .git, node_modules)
	Exts     []string      // file extensions that count (.php); files named in Names count too
	Names    []string      // file names that count whatever their extension (.env, composer.lock)
	Debounce time.Duration // quiet time after the last change before onChange
	Poll     time.Duration // polling period when inotify is unavailable
	Polling  bool          // poll even where inotify works (network file systems)
}

// DefaultOptions watch a PHP app the way resident-php.md proposes.
func DefaultOptions(root string) Options {
	return Options{
		Root:     root,
		Ignore:   []string{"runtime", "public", ".git", "node_modules", ".idea", ".vscode"},
		Exts:     []string{".php", ".env", ".ini", ".yaml", ".yml", ".json", ".html", ".tpl"},
		Names:    []string{".env", "composer.lock"},
		Debounce: 300 * time.Millisecond,
		Poll:     time.Second,
	}
}

func (o Options) counts(path string) bool {
	base := filepath.Base(path)
	for _, n := range o.Names {
		if base == n {
			return true
		}
	}
	ext := strings.ToLower(filepath.Ext(path))
	for _, e := range o.Exts {
		if ext == e {
			return true
		}
	}
	return false
}

func (o Options) ignored(dir string) bool {
	base := filepath.Base(dir)
	for _, n := range o.Ignore {
		if base == n {
			return true
		}
	}
	return false
}

// Run watches until ctx ends, calling onChange with the first changed file
// of each burst of changes.
func Run(ctx context.Context, o Options, log *slog.Logger, onChange func(path string)) error {
	changes := make(chan string, 64)
	var w *fsnotify.Watcher
	err := fs.ErrInvalid
	if !o.Polling {
		if w, err = fsnotify.NewWatcher(); err == nil {
			err = o.addTree(w, o.Root)
		}
	}
	debounce := o.Debounce
	if err != nil {
		if w != nil {
			w.Close()
		}
		if !o.Polling {
			log.Warn("file watch: inotify unavailable; polling instead", "err", err, "every", o.Poll)
		}
		go o.poll(ctx, changes)
		// Files saved together can straddle a poll tick: wait one more
		// period so they still make one burst.
		debounce += o.Poll
	} else {
		defer w.Close()
		go o.notify(ctx, w, changes, log)
	}
	var first string
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-changes:
			if first == "" {
				first = p
			}
			timer.Reset(debounce)
		case <-timer.C:
			onChange(first)
			first = ""
		}
	}
}

// addTree watches dir and every directory below it that is not ignored.
func (o Options) addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != dir && o.ignored(p) {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

func (o Options) notify(ctx context.Context, w *fsnotify.Watcher, changes chan<- string, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			log.Warn("file watch error", "err", err)
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && !o.ignored(ev.Name) {
					o.addTree(w, ev.Name)
					continue
				}
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue
			}
			if o.counts(ev.Name) {
				changes <- ev.Name
			}
		}
	}
}

// poll compares file times every o.Poll.
func (o Options) poll(ctx context.Context, changes chan<- string) {
	seen := o.scan()
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := o.scan()
			for p, mt := range now {
				if old, ok := seen[p]; !ok || !old.Equal(mt) {
					changes <- p
				}
			}
			for p := range seen {
				if _, ok := now[p]; !ok {
					changes <- p
				}
			}
			seen = now
		}
	}
}

func (o Options) scan() map[string]time.Time {
	out := map[string]time.Time{}
	filepath.WalkDir(o.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != o.Root && o.ignored(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if o.counts(p) {
			if info, err := d.Info(); err == nil {
				out[p] = info.ModTime()
			}
		}
		return nil
	})
	return out
}
