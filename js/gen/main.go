// Command gen writes thinkgate.js (UMD) from thinkgate.mjs: go generate ./js.
package main

import (
	"log"
	"os"

	"thinkgate/js"
)

func main() {
	src, err := os.ReadFile("thinkgate.mjs")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("thinkgate.js", []byte(js.UMD(string(src))), 0o644); err != nil {
		log.Fatal(err)
	}
}
