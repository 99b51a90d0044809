package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestLoadTool runs `thinkgate bench` briefly against a real server: it must
// connect every client, see every push it sent arrive, and finish every
// broadcast round. Its timings are not checked here (see docs/BENCHMARKS.md).
func TestLoadTool(t *testing.T) {
	for _, via := range []string{"http", "inner", "text"} {
		t.Run(via, func(t *testing.T) {
			s := start(t, "[log]\nlevel = \"info\"\n[gwcompat]\nsecret = \"k\"")
			cmd := exec.Command(binary, "bench", "-ws", "ws://"+s.addr("ws")+"/", "-api", "http://"+s.addr("api"),
				"-via", via, "-calls-duration", "300ms", "-inner", s.addr("inner"), "-text", s.addr("text"), "-secret", "k", "-senders", "4",
				"-n", "60", "-procs", "2", "-rate", "200", "-duration", "1s", "-rounds", "3", "-pid", fmt.Sprint(s.cmd.Process.Pid))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bench: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`sendToUid\s+(\d+) at 200/s via ` + via + `, (\d+) received`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no sendToUid line in:\n%s", out)
			}
			sent, _ := strconv.Atoi(string(m[1]))
			got, _ := strconv.Atoi(string(m[2]))
			if sent != 200 || got != sent {
				t.Fatalf("sent %d pushes, clients received %d:\n%s", sent, got, out)
			}
			// 60 clients are too few for /proc's 10 ms CPU tick: the tool must say so
			// rather than print a zero.
			want := []string{`connections\s+60\n`, `server CPU/delivery\s+(not measurable|\d)`, `kernel floor\s+(not measurable|\d)`, `server RSS\s+\d`}
			if zero := regexp.MustCompile(`(server CPU/delivery|kernel floor)\s+0\.00 `).Find(out); zero != nil {
				t.Fatalf("printed a zero instead of saying it cannot measure: %q\n%s", zero, out)
			}
			if via == "inner" {
				want = append(want, `GatewayClient-style\s+[1-9]\d* sendToUid calls/s, [1-9]\d* isOnline queries/s`)
			}
			for _, w := range want {
				if !regexp.MustCompile(w).Match(out) {
					t.Fatalf("output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}

// TestLoadToolOnCluster runs the load tool with its clients spread over two
// nodes of a cluster and its pushes sent to one of them, twice at once with
// different prefixes: each run must see exactly its own pushes and rounds.
func TestLoadToolOnCluster(t *testing.T) {
	e := startEngine(t, "redis")
	nodes := startNodes(t, e, 2, "[log]\nlevel = \"info\"", "[log]\nlevel = \"info\"")
	ws := "ws://" + nodes[0].addr("ws") + "/,ws://" + nodes[1].addr("ws") + "/"
	pids := fmt.Sprintf("%d,%d", nodes[0].cmd.Process.Pid, nodes[1].cmd.Process.Pid)
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	done := make(chan int)
	for i := range 2 {
		go func() {
			cmd := exec.Command(binary, "bench", "-ws", ws, "-api", "http://"+nodes[i].addr("api"), "-prefix", fmt.Sprintf("run%d-", i),
				"-n", "60", "-procs", "2", "-rate", "200", "-duration", "1s", "-rounds", "3", "-pid", pids, "-floor=false", "-idle", "0",
				"-first-source", fmt.Sprint(2+i*10))
			outs[i], errs[i] = cmd.CombinedOutput()
			done <- i
		}()
	}
	<-done
	<-done
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("bench %d: %v\n%s", i, errs[i], out)
		}
		m := regexp.MustCompile(`sendToUid\s+(\d+) at 200/s via http, (\d+) received`).FindSubmatch(out)
		if m == nil || string(m[1]) != "200" || string(m[2]) != "200" {
			t.Fatalf("bench %d: want 200 sent and received:\n%s", i, out)
		}
	}
}
