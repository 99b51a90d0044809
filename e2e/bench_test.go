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
