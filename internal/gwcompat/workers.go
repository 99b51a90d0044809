package gwcompat

import (
	"encoding/binary"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
)

// workerQueue bounds the events queued to one BusinessWorker in number, and
// WorkerQueueBytes in bytes (GatewayWorker's sendToWorkerBufferSize): past
// either, the worker is taken as stuck, disconnected and the reason logged;
// BusinessWorker reconnects on its own, and its clients move to the other
// workers meanwhile.
const (
	workerQueue      = 8192
	WorkerQueueBytes = 10 << 20
)

// Workers is the set of attached BusinessWorkers and an events.Sink: each
// client is routed to one worker (sticky, least connections first, ties by
// attach order, as GatewayWorker 3.1.3+), which gets CMD_ON_CONNECT,
// CMD_ON_WEBSOCKET_CONNECT, CMD_ON_MESSAGE and CMD_ON_CLOSE for it. With no
// worker attached, events go nowhere (push-only mode).
type Workers struct {
	log        *slog.Logger
	maxQueued  int64 // WorkerQueueBytes; tests lower it
	localIP    uint32
	localPort  uint16
	publicPort uint16

	// OnAttach, when set before use, is told of every BusinessWorker that
	// attaches (its key), after it is in the set.
	OnAttach func(key string)

	mu      sync.Mutex
	list    []*worker // attach order
	routes  map[*hub.Client]*worker
	remotes map[*hub.Client]remote
}

type remote struct {
	ip   uint32
	port uint16
}

type worker struct {
	key     string
	nc      net.Conn
	settled func() bool // everything received from this worker is applied
	out     chan []byte
	queued  atomic.Int64 // bytes in out
	cut     atomic.Bool  // disconnected for not reading
	bound   int          // clients routed here
	done    chan struct{}
	closed  bool
}

// NewWorkers returns an empty worker set for the node whose inner address is
// localIP:localPort and whose public WebSocket port is publicPort.
func NewWorkers(localIP net.IP, localPort, publicPort int, log *slog.Logger) *Workers {
	return &Workers{
		log: log, maxQueued: WorkerQueueBytes, localIP: ipv4(localIP), localPort: uint16(localPort), publicPort: uint16(publicPort),
		routes: map[*hub.Client]*worker{}, remotes: map[*hub.Client]remote{},
	}
}

// Count returns the number of attached workers.
func (ws *Workers) Count() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.list)
}

func (ws *Workers) add(nc net.Conn, key string, settled func() bool) *worker {
	w := &worker{key: key, nc: nc, settled: settled, out: make(chan []byte, workerQueue), done: make(chan struct{})}
	ws.mu.Lock()
	for _, old := range ws.list {
		if old.key == key { // the same worker reconnected: keep the new one
			ws.log.Warn("BusinessWorker name conflict; closing the old connection", "key", key)
			old.nc.Close()
		}
	}
	ws.list = append(ws.list, w)
	ws.mu.Unlock()
	go w.write()
	ws.log.Info("BusinessWorker attached", "key", key, "remote", nc.RemoteAddr())
	if ws.OnAttach != nil {
		ws.OnAttach(key)
	}
	return w
}

func (ws *Workers) remove(w *worker) {
	ws.mu.Lock()
	for i, x := range ws.list {
		if x == w {
			ws.list = append(ws.list[:i], ws.list[i+1:]...)
			break
		}
	}
	for c, r := range ws.routes {
		if r == w {
			delete(ws.routes, c) // re-routed on its next event
		}
	}
	w.closed = true
	close(w.done)
	ws.mu.Unlock()
	ws.log.Info("BusinessWorker detached", "key", w.key)
}

// settleWait bounds how long a query waits for workers' earlier writes.
const settleWait = 20 * time.Millisecond

// settle waits until every attached worker's received packets are applied,
// or settleWait passes.
func (ws *Workers) settle() {
	ws.mu.Lock()
	list := slices.Clone(ws.list)
	ws.mu.Unlock()
	deadline := time.Now().Add(settleWait)
	for _, w := range list {
		for spins := 0; !w.settled() && time.Now().Before(deadline); spins++ {
			if spins < 16 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}

// write sends queued events to the worker until it goes away; a worker
// that takes more than WriteTimeout to accept one is disconnected.
func (w *worker) write() {
	for {
		select {
		case b := <-w.out:
			w.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
			_, err := w.nc.Write(b)
			w.queued.Add(-int64(len(b)))
			if err != nil {
				w.nc.Close()
				return
			}
		case <-w.done:
			return
		}
	}
}

// route returns the client's worker, picking one on first use; nil when none
// is attached.
func (ws *Workers) route(c *hub.Client) *worker {
	if w := ws.routes[c]; w != nil {
		return w
	}
	var best *worker
	for _, w := range ws.list {
		if best == nil || w.bound < best.bound {
			best = w
		}
	}
	if best != nil {
		best.bound++
		ws.routes[c] = best
	}
	return best
}

// send queues one event packet for the client's worker.
func (ws *Workers) send(c *hub.Client, cmd byte, flag byte, body []byte, unroute bool) {
	ws.mu.Lock()
	w := ws.route(c)
	r := ws.remotes[c]
	if unroute {
		if w != nil {
			w.bound--
		}
		delete(ws.routes, c)
		delete(ws.remotes, c)
	}
	ws.mu.Unlock()
	if w == nil {
		return
	}
	p := Packet{Cmd: cmd, LocalIP: ws.localIP, LocalPort: ws.localPort, ClientIP: r.ip, ClientPort: r.port,
		ConnID: c.ConnID(), Flag: flag, GatewayPort: ws.publicPort, Ext: c.Session(), Body: body}
	b := p.Append(nil)
	if w.queued.Add(int64(len(b))) <= ws.maxQueued {
		select {
		case w.out <- b:
			return
		default:
		}
	}
	w.queued.Add(-int64(len(b)))
	if w.cut.CompareAndSwap(false, true) {
		ws.log.Warn("BusinessWorker disconnected: it is not reading its events; this event and those queued are dropped",
			"worker", w.key, "queued_bytes", w.queued.Load(), "limit_bytes", ws.maxQueued, "queued_events", len(w.out), "cmd", cmd)
		w.nc.Close()
	}
}

// Connect sends CMD_ON_CONNECT, then CMD_ON_WEBSOCKET_CONNECT with the
// handshake data.
func (ws *Workers) Connect(c *events.Conn) {
	var r remote
	if a, ok := c.Handshake.RemoteAddr.(*net.TCPAddr); ok {
		r = remote{ip: ipv4(a.IP), port: uint16(a.Port)}
	}
	ws.mu.Lock()
	ws.remotes[c.Client] = r
	none := len(ws.list) == 0
	ws.mu.Unlock()
	if none {
		return
	}
	ws.send(c.Client, CmdOnConnect, FlagBodyIsScalar, nil, false)
	ws.send(c.Client, CmdOnWebSocketConnect, 0, webSocketData(c), false)
}

// Message sends CMD_ON_MESSAGE.
func (ws *Workers) Message(c *hub.Client, _ bool, data []byte) {
	ws.send(c, CmdOnMessage, FlagBodyIsScalar, data, false)
}

// Close sends CMD_ON_CLOSE and forgets the client's route.
func (ws *Workers) Close(c *hub.Client) { ws.send(c, CmdOnClose, FlagBodyIsScalar, nil, true) }

func ipv4(ip net.IP) uint32 {
	if v4 := ip.To4(); v4 != nil {
		return binary.BigEndian.Uint32(v4)
	}
	return 0 // GatewayWorker sends 0 for IPv6 clients
}
