// Package bench is thinkgate's load tool (`thinkgate bench`). It spreads N
// WebSocket clients over several worker processes and 127.0.0.x source
// addresses, binds uids and groups through the HTTP API, then measures the
// connect rate, the server's RSS per connection, sendToUid latency at a fixed
// rate, and sendToAll fan-out, with the server's CPU time per delivery read
// from /proc so that the figure does not depend on the client's speed.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/gwcompat"
)

type options struct {
	ws, api, key    string
	n, procs        int
	rate            int
	duration        time.Duration
	rounds          int
	pids            string
	pid             []int
	prefix          string
	groups          int
	concurrency     int
	senders         int
	markdown        bool
	floor           bool
	via             string
	text            string
	callsFor        time.Duration
	inner, secret   string
	firstSource     int
	sourcesPerProcs int
	idle            time.Duration
	storm           time.Duration
	recoverStorm    int
}

// Main runs the load tool with command-line args.
func Main(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "worker" {
		return workerMain(args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.StringVar(&o.ws, "ws", "ws://127.0.0.1:2828/", "WebSocket URL of the server; several, comma-separated, spread the worker processes over the nodes of a cluster; ws://host:2828/app/KEY?protocol=7 connects Pusher clients instead of native ones")
	fs.StringVar(&o.api, "api", "http://127.0.0.1:2829", "HTTP API base URL")
	fs.StringVar(&o.key, "key", "", "API key, if the server has api.key")
	fs.IntVar(&o.n, "n", 1000, "connections")
	fs.IntVar(&o.procs, "procs", 2, "client worker processes (each holds n/procs connections)")
	fs.IntVar(&o.rate, "rate", 2000, "sendToUid pushes per second in the latency phase")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the latency phase")
	fs.IntVar(&o.rounds, "rounds", 30, "sendToAll rounds in the fan-out phase")
	fs.StringVar(&o.pids, "pid", "", "server process id, for RSS and CPU from /proc (empty: not measured); several, comma-separated, are summed")
	fs.StringVar(&o.prefix, "prefix", "", "prefix of the uids and groups the clients get; when set, the fan-out phase sends to the clients' groups instead of to all (several runs on one cluster keep to their own clients)")
	fs.IntVar(&o.groups, "groups", 10, "groups the clients are spread over")
	fs.IntVar(&o.concurrency, "dial-concurrency", 64, "concurrent dials per worker")
	fs.IntVar(&o.senders, "senders", 32, "concurrent API requests in the latency phase")
	fs.BoolVar(&o.markdown, "markdown", false, "print the result as a Markdown table row")
	fs.StringVar(&o.via, "via", "http", "how the latency phase pushes: http (POST /api/sendToUid), text (one Text port connection per sender, a line per push) or inner (GatewayClient-style, a connection per call)")
	fs.StringVar(&o.text, "text", "127.0.0.1:5678", "Text port address, for -via text")
	fs.DurationVar(&o.callsFor, "calls-duration", 3*time.Second, "with -via inner: length of each GatewayClient-style calls/s phase")
	fs.StringVar(&o.inner, "inner", "127.0.0.1:2900", "GatewayWorker inner address, for -via inner")
	fs.StringVar(&o.secret, "secret", "", "gwcompat.secret, for -via inner")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "measure the server's CPU while every client is connected and silent for this long (0: skip)")
	fs.DurationVar(&o.storm, "storm", 0, "end with a reconnect storm: every client drops and comes back within this jitter (0: skip)")
	fs.IntVar(&o.recoverStorm, "recover-storm", 0, "with -prefix and version 2 clients (-ws ...?v=2) of groups that keep history: every client drops, this many messages go to each group, then every client comes back within -storm's jitter, joins its group again and recovers what it missed (0: skip)")
	fs.IntVar(&o.firstSource, "first-source", 2, "first source address 127.0.0.<n> (several bench runs side by side use different ranges)")
	fs.BoolVar(&o.floor, "floor", true, "first measure the kernel floor: the same clients read the same frames from a bare write loop")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: thinkgate bench [flags]   (against a running thinkgate; see docs/BENCHMARKS.md)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(o.pids, ",") {
		if f = strings.TrimSpace(f); f != "" {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-pid: %w", err)
			}
			o.pid = append(o.pid, pid)
		}
	}
	if o.n < 1 || o.procs < 1 || o.rate < 1 || o.rounds < 1 {
		return errors.New("-n, -procs, -rate and -rounds must be at least 1")
	}
	if o.via != "http" && o.via != "inner" && o.via != "text" {
		return errors.New("-via must be http, text or inner")
	}
	o.sourcesPerProcs = max(1, (254-o.firstSource)/o.procs)
	if o.floor && !floorSupported {
		fmt.Fprintln(stderr, "bench: the kernel-floor measurement needs a Unix system; skipping it")
		o.floor = false
	}
	r, err := run(o, stderr)
	if err != nil {
		return err
	}
	r.print(stdout, o.markdown)
	return nil
}

func workerMain(args []string) error {
	fs := flag.NewFlagSet("bench worker", flag.ContinueOnError)
	url := fs.String("ws", "", "")
	floor := fs.String("floor", "", "")
	n := fs.Int("n", 0, "")
	first := fs.Int("first-source", 2, "")
	sources := fs.Int("sources", 1, "")
	conc := fs.Int("concurrency", 64, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return runWorker(*url, *floor, *n, *first, *sources, *conc, os.Stdin, os.Stdout)
}

// worker is the coordinator's handle on one worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	msgs  chan workerMsg
	n     int
}

func startWorker(o options, i, n int, floorAddr string) (*worker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding own binary: %w", err)
	}
	urls := strings.Split(o.ws, ",")
	cmd := exec.Command(self, "bench", "worker", "-ws", strings.TrimSpace(urls[i%len(urls)]), "-n", strconv.Itoa(n),
		"-first-source", strconv.Itoa(o.firstSource+i*o.sourcesPerProcs), "-sources", strconv.Itoa(o.sourcesPerProcs),
		"-concurrency", strconv.Itoa(o.concurrency), "-floor", floorAddr)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, msgs: make(chan workerMsg, 1024), n: n}
	go func() {
		defer close(w.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			var m workerMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				w.msgs <- m
			}
		}
	}()
	return w, nil
}

func (w *worker) next(kind string, timeout time.Duration) (workerMsg, error) {
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				return m, errors.New("worker exited")
			}
			if m.Type == "error" {
				return m, fmt.Errorf("worker: %s", m.Error)
			}
			if m.Type == kind {
				return m, nil
			}
		case <-deadline:
			return workerMsg{}, fmt.Errorf("worker sent no %q within %s", kind, timeout)
		}
	}
}

// recoveryStorm drops every client, sends o.recoverStorm messages to each
// group meanwhile, then brings every client back (within o.storm's jitter):
// each joins its group again and recovers what it missed. It records how
// long until all had, what was replayed, and the server's CPU and RSS.
func recoveryStorm(o options, api *apiClient, workers []*worker, res *result, log io.Writer) error {
	if o.prefix == "" {
		return errors.New("-recover-storm needs -prefix (the clients' groups)")
	}
	for _, w := range workers {
		fmt.Fprintln(w.stdin, "drop")
	}
	for _, w := range workers {
		if _, err := w.next("dropped", time.Minute); err != nil {
			return err
		}
	}
	for i := range o.recoverStorm {
		for g := range o.groups {
			if _, err := api.post("sendToGroup", map[string]any{"group": fmt.Sprint(o.prefix, "g", g), "data": fmt.Sprint("missed ", i)}); err != nil {
				return fmt.Errorf("sending what the clients miss: %w", err)
			}
		}
	}
	cpu0, _ := cpuSeconds(o.pid)
	first := 0
	for _, w := range workers {
		fmt.Fprintf(w.stdin, "rejoin %d %s %s %d %d\n", o.storm.Milliseconds(), strings.TrimRight(o.api, "/"), o.prefix, o.groups, first)
		first += w.n
	}
	for _, w := range workers {
		m, err := w.next("rejoined", 10*time.Minute)
		if err != nil {
			return err
		}
		res.RecoverSec = max(res.RecoverSec, m.ConnectSec)
		res.Replayed += m.Replayed
		res.RecoverFailed += m.Failed
	}
	cpu1, _ := cpuSeconds(o.pid)
	res.RecoverCPUSec = cpu1.total() - cpu0.total()
	res.RSSAfterRecoverKiB = rssKiB(o.pid)
	fmt.Fprintf(log, "recovery storm: %d clients recovered %d messages in %.2fs\n", o.n, res.Replayed, res.RecoverSec)
	return nil
}

// result is everything one run measured.
type result struct {
	N                                 int
	ConnectPerSec                     float64
	RSSPerConnKiB                     float64
	RSSMiB                            float64
	HeapPerConnKiB                    float64 // Go heap after a forced GC, from /status
	IdleCPUPerConnUS                  float64 // server CPU per connection per second while all are silent
	IdleCPUPercent                    float64 // of one core
	StormSec                          float64 // reconnect storm: until every client is back
	RecoverSec                        float64 // recovery storm: until every client has recovered
	Replayed, RecoverFailed           int64
	RecoverCPUSec                     float64
	RSSAfterRecoverKiB                int64
	StormPerSec                       float64
	Rate                              int
	Pushes                            int
	Received                          int
	P50, P99, Max                     time.Duration
	CPUPerPushUS                      float64
	FanoutMS                          float64 // median time until the last client has a sendToAll
	FanoutMaxMS                       float64
	DeliveriesPerS                    float64
	CPUPerDeliverUS                   float64
	UserPerDeliverUS, SysPerDeliverUS float64
	FloorPerWriteUS                   float64 // CPU per write of a bare write loop to the same clients
	Via                               string
	InnerSendsPerS, InnerQueriesPerS  float64
}

func run(o options, log io.Writer) (*result, error) {
	res := &result{N: o.n, Rate: o.rate, Via: o.via}
	api := &apiClient{base: strings.TrimRight(o.api, "/"), key: o.key,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.senders}}}
	rssBefore := rssKiB(o.pid)
	heapBefore, heapErr := api.heapAfterGC()
	if strings.Contains(o.ws, ",") { // the -api node's heap says nothing about the others
		heapErr = errors.New("clients on several nodes")
	}

	var floorLn net.Listener
	floorAddr := ""
	if o.floor {
		var err error
		if floorLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("floor listener: %w", err)
		}
		defer floorLn.Close()
		floorAddr = floorLn.Addr().String()
	}

	// Connect.
	workers := make([]*worker, o.procs)
	for i := range workers {
		n := o.n / o.procs
		if i < o.n%o.procs {
			n++
		}
		w, err := startWorker(o, i, n, floorAddr)
		if err != nil {
			return nil, err
		}
		workers[i] = w
		defer func() {
			fmt.Fprintln(w.stdin, "quit")
			w.stdin.Close()
			w.cmd.Wait()
		}()
	}
	if o.floor {
		perWrite, err := measureFloor(floorLn, workers, o)
		if err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		res.FloorPerWriteUS = perWrite
		fmt.Fprintf(log, "floor: %.2f us of CPU per bare write to %d clients\n", perWrite, o.n)
	}
	var ids []string
	var connectSec float64
	for _, w := range workers {
		m, err := w.next("ready", 10*time.Minute)
		if err != nil {
			return nil, err
		}
		ids = append(ids, m.IDs...)
		connectSec = max(connectSec, m.ConnectSec)
	}
	res.ConnectPerSec = float64(o.n) / connectSec
	fmt.Fprintf(log, "connected %d clients in %.2fs\n", o.n, connectSec)
	time.Sleep(500 * time.Millisecond)
	if rssBefore > 0 {
		after := rssKiB(o.pid)
		res.RSSMiB = float64(after) / 1024
		res.RSSPerConnKiB = float64(after-rssBefore) / float64(o.n)
	}
	if heapAfter, err := api.heapAfterGC(); err == nil && heapErr == nil {
		res.HeapPerConnKiB = float64(heapAfter-heapBefore) / 1024 / float64(o.n)
	}
	if o.idle > 0 {
		cpu0, measured := cpuSeconds(o.pid)
		time.Sleep(o.idle)
		cpu1, _ := cpuSeconds(o.pid)
		if measured {
			secs := cpu1.total() - cpu0.total()
			res.IdleCPUPercent = secs / o.idle.Seconds() * 100
			res.IdleCPUPerConnUS = secs / o.idle.Seconds() / float64(o.n) * 1e6
		}
		fmt.Fprintf(log, "idle: %.2f%% of a core for %d silent clients\n", res.IdleCPUPercent, o.n)
	}

	// Bind uid u<i> and group g<i % groups>, 500 clients per batch request.
	for start := 0; start < len(ids); start += 500 {
		var batch []map[string]any
		for i := start; i < min(start+500, len(ids)); i++ {
			batch = append(batch,
				map[string]any{"method": "bindUid", "params": map[string]any{"client_id": ids[i], "uid": fmt.Sprint(o.prefix, "u", i)}},
				map[string]any{"method": "joinGroup", "params": map[string]any{"client_id": ids[i], "group": fmt.Sprint(o.prefix, "g", i%o.groups)}})
		}
		if _, err := api.post("batch", batch); err != nil {
			return nil, fmt.Errorf("binding: %w", err)
		}
	}
	fmt.Fprintf(log, "bound %d uids and %d groups\n", len(ids), o.groups)

	// Latency: sendToUid to a random uid at a fixed rate; the payload carries
	// the send time and each client records arrival minus send time.
	inner := &innerClient{addr: o.inner, secret: o.secret}
	cpu0, measured := cpuSeconds(o.pid)
	pushes := o.rate * int(o.duration.Seconds())
	res.Pushes = pushes
	jobs := make(chan int, o.senders)
	var sendErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var text *textSender
			if o.via == "text" {
				var err error
				if text, err = dialText(o.text); err != nil {
					errOnce.Do(func() { sendErr = err })
					for range jobs {
					}
					return
				}
				defer text.close()
			}
			for i := range jobs {
				uid := fmt.Sprint(o.prefix, "u", i)
				data := fmt.Sprintf("l %d", time.Now().UnixNano())
				var err error
				if text != nil {
					err = text.sendToUid(uid, data)
				} else if o.via == "inner" {
					err = inner.send(gwcompat.CmdSendToUid, 0, fmt.Sprintf(`[%q]`, uid), data)
				} else {
					_, err = api.post("sendToUid", map[string]any{"uid": uid, "data": data})
				}
				if err != nil {
					errOnce.Do(func() { sendErr = err })
				}
			}
		}()
	}
	interval := time.Second / time.Duration(o.rate)
	begin := time.Now()
	for k := range pushes {
		if d := time.Until(begin.Add(time.Duration(k) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- rand.IntN(len(ids))
	}
	close(jobs)
	wg.Wait()
	if sendErr != nil {
		return nil, fmt.Errorf("sendToUid: %w", sendErr)
	}
	cpu1, _ := cpuSeconds(o.pid)
	time.Sleep(500 * time.Millisecond)
	var lat []int64
	for _, w := range workers {
		fmt.Fprintln(w.stdin, "latencies")
		m, err := w.next("latencies", time.Minute)
		if err != nil {
			return nil, err
		}
		if m.Lost > 0 {
			return nil, fmt.Errorf("%d connections ended during the run", m.Lost)
		}
		lat = append(lat, m.Latencies...)
	}
	slices.Sort(lat)
	res.Received = len(lat)
	if len(lat) > 0 {
		res.P50 = time.Duration(lat[len(lat)/2])
		res.P99 = time.Duration(lat[len(lat)*99/100])
		res.Max = time.Duration(lat[len(lat)-1])
	}
	if measured {
		res.CPUPerPushUS = (cpu1.total() - cpu0.total()) / float64(pushes) * 1e6
	}
	fmt.Fprintf(log, "sendToUid: %d pushes at %d/s, p50 %s p99 %s max %s\n", pushes, o.rate, res.P50, res.P99, res.Max)

	if o.via == "inner" {
		var err error
		if res.InnerSendsPerS, res.InnerQueriesPerS, err = innerRates(inner, ids, o, o.callsFor); err != nil {
			return nil, fmt.Errorf("inner calls: %w", err)
		}
		fmt.Fprintf(log, "inner: %.0f sendToUid calls/s, %.0f isOnline queries/s\n", res.InnerSendsPerS, res.InnerQueriesPerS)
		// Drain what the calls delivered before the fan-out rounds.
		time.Sleep(time.Second)
	}

	// Fan-out: one sendToAll at a time; a round ends when every client has it.
	// With -prefix, one sendToGroup to all of this run's groups instead.
	fanOp, fanGroups := "sendToAll", []string(nil)
	if o.prefix != "" {
		fanOp = "sendToGroup"
		for g := range o.groups {
			fanGroups = append(fanGroups, fmt.Sprint(o.prefix, "g", g))
		}
	}
	var fan []float64
	cpu0, _ = cpuSeconds(o.pid)
	for r := 1; r <= o.rounds; r++ {
		t := time.Now().UnixNano()
		if _, err := api.post(fanOp, map[string]any{"group": fanGroups, "data": fmt.Sprintf("b %d %d", r, t)}); err != nil {
			return nil, fmt.Errorf("%s: %w", fanOp, err)
		}
		var last int64
		for _, w := range workers {
			m, err := w.next("round", time.Minute)
			if err != nil {
				return nil, fmt.Errorf("round %d: %w", r, err)
			}
			last = max(last, m.LastNanos)
		}
		fan = append(fan, float64(last-t)/1e6)
	}
	cpu1, _ = cpuSeconds(o.pid)
	if o.storm > 0 && o.recoverStorm == 0 { // with -recover-storm, -storm is its jitter
		for _, w := range workers {
			fmt.Fprintf(w.stdin, "storm %d\n", o.storm.Milliseconds())
		}
		for _, w := range workers {
			m, err := w.next("stormed", 10*time.Minute)
			if err != nil {
				return nil, err
			}
			res.StormSec = max(res.StormSec, m.ConnectSec)
		}
		res.StormPerSec = float64(o.n) / res.StormSec
		fmt.Fprintf(log, "reconnect storm: %d clients back in %.2fs\n", o.n, res.StormSec)
	}
	if o.recoverStorm > 0 {
		if err := recoveryStorm(o, api, workers, res, log); err != nil {
			return nil, err
		}
	}
	slices.Sort(fan)
	res.FanoutMS = fan[len(fan)/2]
	res.FanoutMaxMS = fan[len(fan)-1]
	res.DeliveriesPerS = float64(o.n) / (res.FanoutMS / 1e3)
	if measured {
		d := float64(o.rounds*o.n) / 1e6
		res.CPUPerDeliverUS = (cpu1.total() - cpu0.total()) / d
		res.UserPerDeliverUS = (cpu1.user - cpu0.user) / d
		res.SysPerDeliverUS = (cpu1.sys - cpu0.sys) / d
	}
	return res, nil
}

// measureFloor accepts the workers' plain TCP connections and writes the
// same kind of frame thinkgate sends to each, rounds times, with nothing but
// a write syscall per client: the kernel's cost of a delivery on this box.
// It returns this process's CPU microseconds per write.
func measureFloor(ln net.Listener, workers []*worker, o options) (float64, error) {
	var fds []uintptr
	var conns []io.Closer
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for len(fds) < o.n {
		c, err := ln.Accept()
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return 0, err
		}
		// The fd stays valid while c is open; writing it directly is the
		// floor: no Go poller, no locks, one syscall per delivery.
		raw.Control(func(fd uintptr) { fds = append(fds, fd) })
	}
	for _, w := range workers {
		if _, err := w.next("floor-ready", 10*time.Minute); err != nil {
			return 0, err
		}
	}
	cpu0, measured := cpuSeconds([]int{os.Getpid()})
	for r := 1; r <= o.rounds; r++ {
		frame := ws.MustCompileFrame(ws.NewTextFrame([]byte(fmt.Sprintf("f %d %d", r, time.Now().UnixNano()))))
		for _, fd := range fds {
			if n, err := writeFD(fd, frame); err != nil || n != len(frame) {
				return 0, fmt.Errorf("bare write: %d bytes, %v", n, err)
			}
		}
		for _, w := range workers {
			if _, err := w.next("round", time.Minute); err != nil {
				return 0, err
			}
		}
	}
	cpu1, _ := cpuSeconds([]int{os.Getpid()})
	for _, w := range workers {
		fmt.Fprintln(w.stdin, "floor-done")
	}
	if !measured {
		return 0, errors.New("cannot read own CPU time")
	}
	return (cpu1.total() - cpu0.total()) / float64(o.rounds*o.n) * 1e6, nil
}

func (r *result) print(w io.Writer, markdown bool) {
	if markdown {
		fmt.Fprintf(w, "| %d | %.0f | %.2f | %.2f | %.3f | %d/s %s | %s | %s | %s | %.1f | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f |\n",
			r.N, r.ConnectPerSec, r.RSSPerConnKiB, r.HeapPerConnKiB, r.IdleCPUPerConnUS, r.Rate, r.Via, ms(r.P50), ms(r.P99), ms(r.Max), r.CPUPerPushUS,
			r.FanoutMS, r.DeliveriesPerS, r.CPUPerDeliverUS, r.FloorPerWriteUS, r.CPUPerDeliverUS/r.FloorPerWriteUS, r.StormSec)
		return
	}
	fmt.Fprintf(w, "connections             %d\n", r.N)
	fmt.Fprintf(w, "connect rate            %.0f/s\n", r.ConnectPerSec)
	fmt.Fprintf(w, "server RSS              %.1f MiB (%.2f KiB per connection)\n", r.RSSMiB, r.RSSPerConnKiB)
	fmt.Fprintf(w, "server Go heap          %.2f KiB per connection (after a forced GC)\n", r.HeapPerConnKiB)
	if r.IdleCPUPercent > 0 || r.IdleCPUPerConnUS > 0 {
		fmt.Fprintf(w, "idle CPU                %.2f%% of a core (%.3f us per connection per second)\n", r.IdleCPUPercent, r.IdleCPUPerConnUS)
	}
	fmt.Fprintf(w, "sendToUid               %d at %d/s via %s, %d received\n", r.Pushes, r.Rate, r.Via, r.Received)
	fmt.Fprintf(w, "  latency p50/p99/max   %s / %s / %s ms\n", ms(r.P50), ms(r.P99), ms(r.Max))
	if r.CPUPerPushUS > 0 {
		fmt.Fprintf(w, "  server CPU per push   %.1f us\n", r.CPUPerPushUS)
	}
	if r.InnerSendsPerS > 0 {
		fmt.Fprintf(w, "GatewayClient-style     %.0f sendToUid calls/s, %.0f isOnline queries/s (a connection per call)\n", r.InnerSendsPerS, r.InnerQueriesPerS)
	}
	fmt.Fprintf(w, "sendToAll fan-out       median %.1f ms (max %.1f ms) until the last client has it\n", r.FanoutMS, r.FanoutMaxMS)
	fmt.Fprintf(w, "  deliveries            %.0f/s\n", r.DeliveriesPerS)
	const tooShort = "not measurable: under /proc's 10 ms clock tick (raise -n or -rounds)"
	switch {
	case r.CPUPerDeliverUS > 0:
		fmt.Fprintf(w, "  server CPU/delivery   %.2f us (user %.2f, system %.2f)\n", r.CPUPerDeliverUS, r.UserPerDeliverUS, r.SysPerDeliverUS)
	default:
		fmt.Fprintf(w, "  server CPU/delivery   %s\n", tooShort)
	}
	if r.RecoverSec > 0 {
		fmt.Fprintf(w, "recovery storm          all %d recovered in %.2f s: %d messages replayed, %d not recovered, server CPU %.2f s, RSS after %d KiB\n",
			r.N, r.RecoverSec, r.Replayed, r.RecoverFailed, r.RecoverCPUSec, r.RSSAfterRecoverKiB)
	}
	if r.StormSec > 0 {
		fmt.Fprintf(w, "reconnect storm         all %d back in %.2f s (%.0f connects/s)\n", r.N, r.StormSec, r.StormPerSec)
	}
	switch {
	case r.FloorPerWriteUS > 0 && r.CPUPerDeliverUS > 0:
		fmt.Fprintf(w, "  kernel floor          %.2f us per bare write to the same clients; thinkgate/floor = %.2f\n", r.FloorPerWriteUS, r.CPUPerDeliverUS/r.FloorPerWriteUS)
	case r.FloorPerWriteUS > 0:
		fmt.Fprintf(w, "  kernel floor          %.2f us per bare write to the same clients\n", r.FloorPerWriteUS)
	default:
		fmt.Fprintf(w, "  kernel floor          %s\n", tooShort)
	}
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

type apiClient struct {
	base, key string
	http      *http.Client
}

func (a *apiClient) post(method string, body any) ([]byte, error) {
	b, _ := json.Marshal(body)
	return a.do("POST", "/api/"+method, bytes.NewReader(b))
}

// do sends one request with the key and returns the body of a 200 answer.
func (a *apiClient) do(method, path string, body io.Reader) ([]byte, error) {
	req, _ := http.NewRequestWithContext(context.Background(), method, a.base+path, body)
	if a.key != "" {
		req.Header.Set("Authorization", "Bearer "+a.key)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, out)
	}
	return out, err
}

// heapAfterGC asks the server to collect garbage (the profiler's gc=1)
// and returns its Go heap from /status.
func (a *apiClient) heapAfterGC() (int64, error) {
	if _, err := a.do("GET", "/debug/pprof/heap?gc=1", nil); err != nil {
		return 0, err
	}
	b, err := a.do("GET", "/status", nil)
	if err != nil {
		return 0, err
	}
	var st struct {
		Memory struct {
			Heap int64 `json:"heap_alloc_bytes"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("/status: %w", err)
	}
	return st.Memory.Heap, nil
}

// rssKiB sums VmRSS of pids from /proc (0 when none is given).
func rssKiB(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		total += rssOne(pid)
	}
	return total
}

// rssOne reads VmRSS of pid from /proc (0 when unreadable).
func rssOne(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// cpuTimes is a process's user and system CPU time in seconds.
type cpuTimes struct{ user, sys float64 }

func (c cpuTimes) total() float64 { return c.user + c.sys }

// cpuSeconds sums the CPU times of pids (ok false when none is given or
// one is unreadable).
func cpuSeconds(pids []int) (cpuTimes, bool) {
	var sum cpuTimes
	for _, pid := range pids {
		c, ok := cpuOne(pid)
		if !ok {
			return cpuTimes{}, false
		}
		sum.user, sum.sys = sum.user+c.user, sum.sys+c.sys
	}
	return sum, len(pids) > 0
}

// cpuOne reads the CPU times of pid from /proc/<pid>/stat.
func cpuOne(pid int) (cpuTimes, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return cpuTimes{utime / 100, stime / 100}, true // USER_HZ is 100 on Linux
}
