package watch

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchReportsSourceChangesOnly(t *testing.T) {
	for _, polling := range []bool{false, true} {
		name := map[bool]string{false: "inotify", true: "polling"}[polling]
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"app/controller", "runtime/cache", "public"} {
				os.MkdirAll(filepath.Join(root, d), 0o755)
			}
			os.WriteFile(filepath.Join(root, "app/controller/Index.php"), []byte("<?php"), 0o644)
			o := DefaultOptions(root)
			o.Polling, o.Poll, o.Debounce = polling, 100*time.Millisecond, 100*time.Millisecond
			got := make(chan string, 10)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go Run(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)), func(p string) { got <- p })
			time.Sleep(300 * time.Millisecond)

			// Ignored: runtime/, public/, and files that are not source.
			os.WriteFile(filepath.Join(root, "runtime/cache/x.php"), []byte("1"), 0o644)
			os.WriteFile(filepath.Join(root, "public/app.php"), []byte("1"), 0o644)
			os.WriteFile(filepath.Join(root, "app/notes.txt"), []byte("1"), 0o644)
			select {
			case p := <-got:
				t.Fatalf("reported an ignored change: %s", p)
			case <-time.After(600 * time.Millisecond):
			}
			// A burst of source changes is one report naming the first file.
			target := filepath.Join(root, "app/controller/Index.php")
			os.WriteFile(target, []byte("<?php // changed"), 0o644)
			os.WriteFile(filepath.Join(root, ".env"), []byte("APP_DEBUG=true"), 0o644)
			select {
			case p := <-got:
				if p != target && !polling {
					t.Fatalf("reported %s, want %s", p, target)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a changed PHP file was not reported")
			}
			select {
			case p := <-got:
				t.Fatalf("one burst reported twice (%s)", p)
			case <-time.After(500 * time.Millisecond):
			}
			// A directory created later is watched too.
			os.MkdirAll(filepath.Join(root, "app/model"), 0o755)
			time.Sleep(200 * time.Millisecond)
			os.WriteFile(filepath.Join(root, "app/model/User.php"), []byte("<?php"), 0o644)
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("a file in a new directory was not reported")
			}
		})
	}
}
