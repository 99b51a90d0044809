// Command bare is the floor for the resident PHP front's Go side: a plain
// net/http server that answers every request with the same bytes (a file
// read once), so that its CPU per request can be compared with thinkgate's
// in the same run (scripts/bench-php-ratios).
//
//	go run ./bench/bare -addr 127.0.0.1:8107 -file body.json -type application/json
//
// With -children N it is the floor that does the same I/O as thinkgate: N
// child processes (copies of itself), each behind a pair of blocking pipes
// like a PHP worker, one request at a time; the handler takes a free child,
// writes the request line to it, reads the body back, frees the child and
// writes the body to the client. -work makes each child spend that long per
// request (the PHP side's time), so the parent waits on its children as
// thinkgate waits on PHP. No JSON, no headers to copy, no timers: what is
// left is net/http and a pipe round trip.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8107", "address to listen on")
	file := flag.String("file", "", "the response body")
	ctype := flag.String("type", "application/json", "its Content-Type")
	children := flag.Int("children", 0, "answer through this many child processes over pipes (0: in the handler)")
	work := flag.Duration("work", 0, "time each child spends per request")
	child := flag.Bool("child", false, "run as a child (internal)")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	if *child {
		runChild(body, *work)
		return
	}
	length := strconv.Itoa(len(body))
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", *ctype)
		w.Header().Set("Content-Length", length)
		w.Write(body)
	}
	if *children > 0 {
		idle := make(chan *pipes, *children)
		for range *children {
			idle <- startChild(*file, *work)
		}
		handler = func(w http.ResponseWriter, r *http.Request) {
			c := <-idle
			reply, err := c.roundTrip([]byte(r.Method + " " + r.RequestURI))
			idle <- c
			if err != nil {
				log.Fatal(err)
			}
			w.Header().Set("Content-Type", *ctype)
			w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
			w.Write(reply)
		}
	}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(handler)))
}

// pipes are the parent's ends of one child's pipes.
type pipes struct{ to, from *os.File }

// roundTrip sends one length-prefixed message and reads one back.
func (p *pipes) roundTrip(msg []byte) ([]byte, error) {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(msg)))
	if _, err := p.to.Write(append(out, msg...)); err != nil {
		return nil, fmt.Errorf("write to child: %w", err)
	}
	return readMsg(p.from)
}

func readMsg(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.LittleEndian.Uint32(n[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

// blockingPipe is a pipe whose reads block the thread, as thinkgate's do.
func blockingPipe() (r, w *os.File) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		log.Fatal(err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1")
}

func startChild(file string, work time.Duration) *pipes {
	childReads, parentWrites := blockingPipe()
	parentReads, childWrites := blockingPipe()
	cmd := exec.Command(os.Args[0], "-child", "-file", file, "-work", work.String())
	cmd.ExtraFiles = []*os.File{childReads, childWrites} // fd 3 and 4
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	childReads.Close()
	childWrites.Close()
	return &pipes{to: parentWrites, from: parentReads}
}

// runChild answers every message on fd 3 with body on fd 4, after work.
func runChild(body []byte, work time.Duration) {
	in, out := os.NewFile(3, "in"), os.NewFile(4, "out")
	reply := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	reply = append(reply, body...)
	for {
		if _, err := readMsg(in); err != nil {
			os.Exit(0) // the parent is gone
		}
		for start := time.Now(); time.Since(start) < work; {
		}
		if _, err := out.Write(reply); err != nil {
			os.Exit(0)
		}
	}
}
