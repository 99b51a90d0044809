// Command bare is the floor for the resident PHP front's Go side: a plain
// net/http server that answers every request with the same bytes (a file
// read once), so that its CPU per request can be compared with thinkgate's
// in the same run (scripts/bench-php-ratios).
//
//	go run ./bench/bare -addr 127.0.0.1:8107 -file body.json -type application/json
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8107", "address to listen on")
	file := flag.String("file", "", "the response body")
	ctype := flag.String("type", "application/json", "its Content-Type")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	length := strconv.Itoa(len(body))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", *ctype)
		w.Header().Set("Content-Length", length)
		w.Write(body)
	})))
}
