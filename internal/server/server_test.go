package server

import (
	"os"
	"path/filepath"
	"testing"

	"thinkgate/internal/config"
	"thinkgate/internal/phpapp"
)

func TestThinkPHPProjectDetection(t *testing.T) {
	full := []string{"think", "app/", "public/", "vendor/topthink/framework/"}
	cases := []struct {
		name  string
		paths []string
		want  bool
	}{
		{"a ThinkPHP project", full, true},
		{"no vendor (composer install not run)", []string{"think", "app/", "public/"}, false},
		{"no think script", []string{"app/", "public/", "vendor/topthink/framework/"}, false},
		{"empty", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range tc.paths {
				full := filepath.Join(dir, p)
				if p[len(p)-1] == '/' {
					os.MkdirAll(full, 0o755)
				} else {
					os.WriteFile(full, []byte("#!/usr/bin/env php\n"), 0o755)
				}
			}
			if got := phpapp.IsThinkPHP(dir); got != tc.want {
				t.Fatalf("phpapp.IsThinkPHP = %v, want %v", got, tc.want)
			}
			cfg := config.Default()
			cfg.PHP.App = dir
			if hasApp(cfg) != tc.want || (appListen(cfg) != "") != tc.want {
				t.Fatalf("hasApp/appListen disagree with detection")
			}
			cfg.PHP.Entry = "app.php"
			if !hasApp(cfg) || appListen(cfg) != cfg.HTTP.Listen {
				t.Fatal("an explicit php.entry must always serve")
			}
		})
	}
}
