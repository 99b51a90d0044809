package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/pusher"
	"thinkgate/internal/wsclient"
)

// Messages between the coordinator and its workers, one JSON object a line
// on the worker's stdout; the coordinator writes plain command lines
// ("floor-done", "latencies", "storm <jitter ms>", "quit") to the worker's stdin.
type workerMsg struct {
	Type       string   `json:"type"`                  // "floor-ready", "ready", "round", "latencies", "stormed", "error"
	IDs        []string `json:"ids,omitempty"`         // ready: client ids in connection order
	ConnectSec float64  `json:"connect_sec,omitempty"` // ready: time to connect all
	Round      int      `json:"round,omitempty"`       // round: which broadcast ("f" rounds are negative)
	LastNanos  int64    `json:"last_nanos,omitempty"`  // round: unix ns when the last client had it
	Latencies  []int64  `json:"latencies,omitempty"`   // latencies: sendToUid latencies in ns
	Lost       int64    `json:"lost,omitempty"`        // latencies: connections that ended early
	Replayed   int64    `json:"replayed,omitempty"`    // rejoined: messages replayed to the worker's clients
	Failed     int64    `json:"failed,omitempty"`      // rejoined: clients told recovered: false
	Error      string   `json:"error,omitempty"`
}

// Payloads are plain text so clients parse them cheaply:
//
//	"l <unix ns>"           a sendToUid latency probe
//	"b <round> <unix ns>"   a sendToAll round
//	"f <round> <unix ns>"   a round of the bare-write floor
func parsePayload(p []byte) (kind byte, round int, t int64, ok bool) {
	f := strings.Fields(string(p))
	switch {
	case len(f) == 2 && f[0] == "l":
		t, err := strconv.ParseInt(f[1], 10, 64)
		return 'l', 0, t, err == nil
	case len(f) == 3 && (f[0] == "b" || f[0] == "f"):
		r, err1 := strconv.Atoi(f[1])
		t, err2 := strconv.ParseInt(f[2], 10, 64)
		return f[0][0], r, t, err1 == nil && err2 == nil
	}
	return 0, 0, 0, false
}

// receiver records what the worker's connections receive.
type receiver struct {
	n    int // connections that must see a round before it is reported
	emit func(workerMsg)

	latMu     sync.Mutex
	latencies []int64
	lost      atomic.Int64
	rounds    sync.Map // round -> *atomic.Int64 count
}

// position is the last stream position a version 2 client saw.
type position struct {
	offset uint64
	epoch  string
}

// v2Position reads "offset" and "epoch" from a version 2 envelope.
func v2Position(p []byte) (position, bool) {
	i := bytes.Index(p, []byte(`"offset":`))
	j := bytes.Index(p, []byte(`"epoch":"`))
	if i < 0 || j < 0 {
		return position{}, false
	}
	rest := p[i+len(`"offset":`):]
	k := 0
	for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	off, err := strconv.ParseUint(string(rest[:k]), 10, 64)
	e := p[j+len(`"epoch":"`):]
	end := bytes.IndexByte(e, '"')
	if err != nil || end < 0 {
		return position{}, false
	}
	return position{off, string(e[:end])}, true
}

// read parses server frames from r until it fails; quiet suppresses the
// "lost" count for connections closed on purpose; pos, when set, keeps the
// last stream position a version 2 client saw.
func (rc *receiver) read(r io.Reader, quiet *atomic.Bool, pos *position) {
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			if !quiet.Load() {
				rc.lost.Add(1)
			}
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			if !quiet.Load() {
				rc.lost.Add(1)
			}
			return
		}
		rc.got(p, pos)
	}
}

// readSSE is read for a client on Server-Sent Events: each event's data
// line is a message.
func (rc *receiver) readSSE(r *bufio.Reader, quiet *atomic.Bool) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if !quiet.Load() {
				rc.lost.Add(1)
			}
			return
		}
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			rc.got(bytes.Clone(bytes.TrimRight(d, "\n")), nil)
		}
	}
}

// got records one message.
func (rc *receiver) got(p []byte, pos *position) {
	now := time.Now().UnixNano()
	if len(p) > 0 && p[0] == '{' { // a Pusher event or a version 2 envelope: the payload is its data
		if pos != nil {
			if at, ok := v2Position(p); ok {
				*pos = at
			}
		}
		p = pusherData(p)
	}
	kind, round, t, ok := parsePayload(p)
	switch {
	case !ok:
	case kind == 'l':
		rc.latMu.Lock()
		rc.latencies = append(rc.latencies, now-t)
		rc.latMu.Unlock()
	default:
		if kind == 'f' {
			round = -round
		}
		v, _ := rc.rounds.LoadOrStore(round, new(atomic.Int64))
		if int(v.(*atomic.Int64).Add(1)) == rc.n {
			rc.emit(workerMsg{Type: "round", Round: round, LastNanos: now})
		}
	}
}

// dialSSE opens an event stream at url from local and reads it up to the
// init message, whose client_id it returns.
func dialSSE(url string, local *net.TCPAddr) (net.Conn, *bufio.Reader, string, error) {
	rest, _ := strings.CutPrefix(url, "http://")
	host, path, _ := strings.Cut(rest, "/")
	d := net.Dialer{LocalAddr: local, Timeout: 30 * time.Second}
	c, err := d.Dial("tcp", host)
	if err != nil {
		return nil, nil, "", err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		c.Close()
		return nil, nil, "", fmt.Errorf("event stream: %v %v", resp, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, nil, "", fmt.Errorf("event stream: %w", err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"type":"init"`) {
			c.SetDeadline(time.Time{})
			id, err := clientIDOf(strings.TrimSpace(d))
			return c, br, id, err
		}
	}
}

// pusherData is the data string of a Pusher event envelope
// ({"event":"message",...,"data":"b 3 123"}); the load tool's payloads
// need no JSON escapes.
func pusherData(p []byte) []byte {
	i := bytes.Index(p, []byte(`"data":"`))
	if i < 0 {
		return nil
	}
	p = p[i+len(`"data":"`):]
	if j := bytes.IndexByte(p, '"'); j >= 0 {
		return p[:j]
	}
	return nil
}

// clientIDOf reads a client's first message: the native init message, or a
// Pusher client's connection_established, whose socket_id names the
// client_id (a -ws URL with /app/{key}?protocol=7 makes Pusher clients).
func clientIDOf(first string) (string, error) {
	var m struct {
		ClientID string `json:"client_id"`
		Event    string `json:"event"`
		Data     string `json:"data"`
	}
	if err := json.Unmarshal([]byte(first), &m); err != nil {
		return "", fmt.Errorf("first message %q: %w", first, err)
	}
	if m.Event != "pusher:connection_established" {
		return m.ClientID, nil
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	json.Unmarshal([]byte(m.Data), &d)
	return pusher.ClientID(d.SocketID)
}

// runWorker is one client process: optionally the bare-TCP floor first, then
// n WebSocket connections from source addresses 127.0.0.<first..>, then it
// records what arrives until told to quit.
func runWorker(url, floorAddr string, n, firstSource, sources, concurrency int, stdin io.Reader, stdout io.Writer) error {
	raiseFileLimit()
	out := json.NewEncoder(stdout)
	var outMu sync.Mutex
	emit := func(m workerMsg) {
		outMu.Lock()
		defer outMu.Unlock()
		out.Encode(m)
	}
	fail := func(err error) error {
		emit(workerMsg{Type: "error", Error: err.Error()})
		return err
	}
	cmds := bufio.NewScanner(stdin)
	source := func(i int) *net.TCPAddr {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(firstSource+i%sources))}
	}

	if floorAddr != "" {
		raw := make([]net.Conn, n)
		_, err := dialAll(n, concurrency, func(i int) (string, error) {
			c, err := net.DialTCP("tcp", source(i), mustTCPAddr(floorAddr))
			raw[i] = c
			return "", err
		})
		if err != nil {
			return fail(fmt.Errorf("floor: %w", err))
		}
		var closing atomic.Bool
		rc := &receiver{n: n, emit: emit}
		for _, c := range raw {
			go rc.read(c, &closing, nil)
		}
		emit(workerMsg{Type: "floor-ready"})
		for cmds.Scan() && cmds.Text() != "floor-done" {
		}
		closing.Store(true)
		for _, c := range raw {
			c.Close()
		}
	}

	conns := make([]*wsclient.Conn, n)
	// An http:// URL makes clients of Server-Sent Events (its /sse path).
	isSSE := strings.HasPrefix(url, "http")
	sseConns := make([]net.Conn, n)
	sseReaders := make([]*bufio.Reader, n)
	dialOne := func(i int) (string, error) {
		if isSSE {
			c, br, id, err := dialSSE(url, source(i))
			sseConns[i], sseReaders[i] = c, br
			return id, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := wsclient.Dial(ctx, url, source(i))
		if err != nil {
			return "", err
		}
		conns[i] = c
		init, err := c.ReadText(30 * time.Second)
		if err != nil {
			return "", fmt.Errorf("init message: %w", err)
		}
		c.SetReadDeadline(time.Time{})
		return clientIDOf(init)
	}
	begin := time.Now()
	ids, err := dialAll(n, concurrency, dialOne)
	if err != nil {
		return fail(err)
	}
	emit(workerMsg{Type: "ready", IDs: ids, ConnectSec: time.Since(begin).Seconds()})

	quitting := new(atomic.Bool)
	rc := &receiver{n: n, emit: emit}
	positions := make([]position, n)
	for i, c := range conns {
		if isSSE {
			go rc.readSSE(sseReaders[i], quitting)
			continue
		}
		go rc.read(c, quitting, &positions[i])
	}
	for cmds.Scan() {
		cmd, arg, _ := strings.Cut(cmds.Text(), " ")
		if isSSE && (cmd == "storm" || cmd == "drop" || cmd == "rejoin") {
			return fail(fmt.Errorf("%s: not for clients of Server-Sent Events", cmd))
		}
		switch cmd {
		case "latencies":
			rc.latMu.Lock()
			l := rc.latencies
			rc.latencies = nil
			rc.latMu.Unlock()
			emit(workerMsg{Type: "latencies", Latencies: l, Lost: rc.lost.Load()})
		case "storm":
			// Every connection drops at once and comes back after a random
			// pause of up to arg milliseconds, as browsers do after a
			// network blip.
			jitter, _ := strconv.Atoi(arg)
			quitting.Store(true)
			for _, c := range conns {
				c.Close()
			}
			quitting = new(atomic.Bool)
			begin := time.Now()
			ids, err := stormDial(n, concurrency, time.Duration(jitter)*time.Millisecond, dialOne)
			if err != nil {
				return fail(fmt.Errorf("reconnect storm: %w", err))
			}
			emit(workerMsg{Type: "stormed", IDs: ids, ConnectSec: time.Since(begin).Seconds()})
			for i, c := range conns {
				go rc.read(c, quitting, &positions[i])
			}
		case "drop":
			// Every connection goes; the positions stay, for "rejoin".
			quitting.Store(true)
			for _, c := range conns {
				c.Close()
			}
			time.Sleep(100 * time.Millisecond) // the readers see their end
			emit(workerMsg{Type: "dropped"})
		case "rejoin":
			// rejoin <jitter ms> <api> <group prefix> <groups> <first index>: each
			// client comes back within the jitter, joins its group again
			// through the HTTP API (as a backend binding it again would) and
			// asks for what it missed since its position.
			f := strings.Fields(arg)
			if len(f) != 5 {
				return fail(fmt.Errorf("rejoin: bad arguments %q", arg))
			}
			jitter, _ := strconv.Atoi(f[0])
			groups, _ := strconv.Atoi(f[3])
			first, _ := strconv.Atoi(f[4])
			quitting = new(atomic.Bool)
			var replayed, failed atomic.Int64
			begin := time.Now()
			api := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
			_, err := stormDial(n, concurrency, time.Duration(jitter)*time.Millisecond, func(i int) (string, error) {
				id, err := dialOne(i)
				if err != nil {
					return "", err
				}
				group := fmt.Sprint(f[2], "g", (first+i)%groups)
				body := fmt.Sprintf(`{"client_id":%q,"group":%q}`, id, group)
				resp, err := api.Post(f[1]+"/api/joinGroup", "application/json", strings.NewReader(body))
				if err != nil {
					return "", fmt.Errorf("joinGroup: %w", err)
				}
				resp.Body.Close()
				req := fmt.Sprintf(`{"type":"recover","streams":{%q:{"offset":%d,"epoch":%q}}}`, "g:"+group, positions[i].offset, positions[i].epoch)
				if err := conns[i].WriteText(req); err != nil {
					return "", err
				}
				for {
					m, err := conns[i].ReadText(30 * time.Second)
					if err != nil {
						return "", fmt.Errorf("recover: %w", err)
					}
					if strings.Contains(m, `"type":"recovered"`) {
						if !strings.Contains(m, `"recovered":true`) {
							failed.Add(1)
						}
						break
					}
					replayed.Add(1)
				}
				conns[i].SetReadDeadline(time.Time{})
				return id, nil
			})
			if err != nil {
				return fail(fmt.Errorf("recovery storm: %w", err))
			}
			emit(workerMsg{Type: "rejoined", ConnectSec: time.Since(begin).Seconds(), Replayed: replayed.Load(), Failed: failed.Load()})
			for i, c := range conns {
				go rc.read(c, quitting, &positions[i])
			}
		case "quit":
			quitting.Store(true)
			for i, c := range conns {
				if isSSE {
					sseConns[i].Close()
					continue
				}
				c.Close()
			}
			return nil
		}
	}
	return nil
}

// stormDial redials n connections, each after a random pause in [0, jitter),
// with at most 4*concurrency dials in flight.
func stormDial(n, concurrency int, jitter time.Duration, dial func(i int) (string, error)) ([]string, error) {
	out := make([]string, n)
	sem := make(chan struct{}, 4*concurrency)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if jitter > 0 {
				time.Sleep(rand.N(jitter))
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := dial(i)
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			out[i] = s
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return out, nil
}

// dialAll runs dial(i) for i in [0, n) with concurrency workers and returns
// the strings it produced, in order; the first error stops it.
func dialAll(n, concurrency int, dial func(i int) (string, error)) ([]string, error) {
	out := make([]string, n)
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				s, err := dial(i)
				if err != nil {
					first.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					return
				}
				out[i] = s
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return nil, err
	}
	return out, nil
}

func mustTCPAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}
