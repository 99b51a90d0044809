package js

import "testing"

// The committed UMD build must be the one thinkgate.mjs makes.
func TestUMDIsUpToDate(t *testing.T) {
	if umd != UMD(module) {
		t.Fatal("js/thinkgate.js is stale: run go generate ./js")
	}
	if UMD(module) == "" || module[len(module)-len(exportLine):] != exportLine {
		t.Fatal("thinkgate.mjs must end with " + exportLine)
	}
}
