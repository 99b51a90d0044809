// Package archtest checks the import rules of docs/architecture.md.
package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "thinkgate/internal/"

// rules: a package (or, ending in "/...", a tree) and the trees it must not
// import, directly or through another package.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"hub", []string{"transport/...", "session/...", "events/...", "api/...", "gwcompat/...", "cluster/...", "server/...", "github.com/gobwas/ws"}},
	{"transport/...", []string{"hub/...", "session/...", "events/...", "api/...", "gwcompat/...", "server/..."}},
	{"events", []string{"transport/...", "session/...", "server/..."}},
	{"session/...", []string{"server/...", "api/...", "gwcompat/...", "cluster/...", "pusherapi/..."}},
	{"pusher", []string{"transport/...", "session/...", "events/...", "api/...", "pusherapi/...", "server/..."}},
	{"pusherapi", []string{"transport/...", "session/...", "events/...", "api/...", "server/..."}},
	{"...", []string{"server/..."}},
}

// configUsers may import internal/config; everything else is given plain
// options by server.
var configUsers = []string{"server", "config"}

type pkg struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // direct and indirect
}

// matches reports whether import path p is in pattern (relative to
// thinkgate/internal/; "x/..." is x and everything below it; a path with a
// dot, such as github.com/gobwas/ws, is another module's package).
func matches(p, pattern string) bool {
	if strings.Contains(pattern, ".") && !strings.HasSuffix(pattern, "...") { // another module
		return p == pattern || strings.HasPrefix(p, pattern+"/")
	}
	if !strings.HasPrefix(p, mod) {
		return false
	}
	p = strings.TrimPrefix(p, mod)
	if pattern == "..." {
		return true
	}
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == tree || strings.HasPrefix(p, tree+"/")
	}
	return p == pattern
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "thinkgate/internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(p.Imports, mod+"config") && !slices.ContainsFunc(configUsers, func(u string) bool { return matches(p.ImportPath, u) }) {
			t.Errorf("%s imports internal/config (docs/architecture.md: only server reads the configuration)", p.ImportPath)
		}
		for _, r := range rules {
			if !matches(p.ImportPath, r.pkg) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				for _, f := range r.forbidden {
					if matches(d, f) && !matches(p.ImportPath, f) {
						t.Errorf("%s imports %s (docs/architecture.md: %s must not import %s)", p.ImportPath, d, r.pkg, f)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages checked: is go list seeing the module?", checked)
	}
}
