package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/api"
	"thinkgate/internal/config"
	"thinkgate/internal/control"
	"thinkgate/internal/session"
	"thinkgate/internal/transport"
	"thinkgate/internal/transport/websocket"
	"thinkgate/js"
)

// The operations the control socket and the signals reach: reload, stop,
// the connections listing and the message rates of status.

// config returns the configuration in force.
func (n *Node) config() config.Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// wsOptions are the transport settings of cfg; check vets handshakes.
func wsOptions(cfg config.Config, check func(*transport.Request) *transport.Rejection, fallback websocket.Fallback) websocket.Options {
	hb := cfg.Heartbeat
	return websocket.Options{
		MaxMessageSize:     cfg.WS.MaxMessageSize,
		MaxSendBuffer:      cfg.WS.MaxSendBuffer,
		HandshakeTimeout:   cfg.WS.HandshakeTimeout.Duration,
		MaxHeaderSize:      cfg.WS.MaxHeaderSize,
		IdleTimeout:        hb.Timeout.Duration,
		PingReply:          hb.Reply,
		ServerPing:         hb.ServerPing,
		ServerPingInterval: hb.ServerPingInterval.Duration,
		MaxConns:           maxConnections(cfg),
		Check:              check,
		Static:             js.File, // thinkgate.js for pages: <script src="http://host:2828/thinkgate.js">
		Fallback:           fallback,
	}
}

// maxConnections is ws.max_connections, or, when 0, what the open-files
// limit leaves after a reserve (128 descriptors: listeners, logs, Redis),
// the backend listeners' caps (backendCaps), and with an app the PHP
// workers' pipes (8 each) and the http listener's cap; at least a quarter
// of the limit (half without an app). Together they are the process's
// descriptor budget: each listener accepts only up to its share, so a
// flood on one never takes what another needs.
func maxConnections(cfg config.Config) int {
	if cfg.WS.MaxConnections > 0 {
		return cfg.WS.MaxConnections
	}
	limit := openFilesLimit()
	if limit <= 0 {
		return 0
	}
	backends := 0
	for _, c := range backendCaps(cfg) {
		backends += c.n
	}
	if !hasApp(cfg) {
		return max(limit-128-backends, limit/2)
	}
	workers := cfg.PHP.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	return max(limit-128-backends-8*workers-httpMaxConnections(cfg), limit/4)
}

// listenerCap is one backend listener's connection cap and its config key.
type listenerCap struct {
	key string
	n   int
}

// backendCaps are the connection caps of the backend listeners that are
// on: the API, the Text port, the Register and the inner port. Their sum
// is kept out of the WebSocket share of the open-files limit, so that no
// flood of one listener can take the descriptors another needs.
func backendCaps(cfg config.Config) map[string]listenerCap {
	limit := openFilesLimit()
	def := func(set, dflt int) int {
		if set > 0 {
			return set
		}
		if limit > 0 {
			return max(min(dflt, limit/8), 16)
		}
		return dflt
	}
	caps := map[string]listenerCap{}
	if cfg.API.Listen != "" {
		caps["api"] = listenerCap{"api.max_connections", def(cfg.API.MaxConnections, 256)}
	}
	if cfg.Text.Listen != "" {
		caps["text"] = listenerCap{"text.max_connections", def(cfg.Text.MaxConnections, 1024)}
	}
	if cfg.GWCompat.Register != "" {
		caps["register"] = listenerCap{"gwcompat.max_connections", def(cfg.GWCompat.MaxConnections, 1024)}
	}
	if cfg.GWCompat.Inner != "" {
		caps["inner"] = listenerCap{"gwcompat.max_connections", def(cfg.GWCompat.MaxConnections, 1024)}
	}
	return caps
}

// httpMaxConnections is http.max_connections, or, when 0, a quarter of the
// open-files limit (1,024 when it is unknown).
func httpMaxConnections(cfg config.Config) int {
	if cfg.HTTP.MaxConnections > 0 {
		return cfg.HTTP.MaxConnections
	}
	if limit := openFilesLimit(); limit > 0 {
		return max(limit/4, 16)
	}
	return 1024
}

// sessionLimits are the [limits] every client protocol shares.
func sessionLimits(l config.Limits) session.Limits {
	return session.Limits{ConnectionsPerIP: l.ConnectionsPerIP, ConnectRatePerIP: l.ConnectRatePerIP,
		MessageRate: l.MessageRate, Loopback: l.Loopback}
}

// applyLimits puts the live keys of cfg in force on every listener.
func (n *Node) applyLimits(cfg config.Config) {
	hb := cfg.Heartbeat
	n.hb.Store(&hb)
	n.ws.SetOptions(wsOptions(cfg, n.clients.Check, n.sse))
	n.api.SetLimits(cfg.API.Key, int64(cfg.API.MaxBodySize))
	n.api.SetRate(cfg.Limits.APIRate)
	n.clients.SetLimits(sessionLimits(cfg.Limits))
	n.text.SetLimits(api.TextOptions{Key: cfg.Text.Key, MaxLineSize: cfg.Text.MaxLineSize, IdleTimeout: cfg.Text.IdleTimeout.Duration})
	if n.hook != nil && cfg.Events.WebhookURL != "" { // "" only when the new config turns the sink off: a restart does that
		n.hook.SetOptions(webhookOptions(cfg.Events))
	}
	if n.front != nil {
		n.front.SetLimits(int64(cfg.HTTP.MaxBodySize), int64(cfg.HTTP.MaxUploadSize))
		n.front.SetAccessLog(cfg.Log.Access)
	}
}

// Reload re-reads the configuration (LoadConfig), puts every key that can
// change live in force, reopens the log file, re-reads the TLS certificates
// and rolls the PHP workers. No WebSocket connection is dropped and no
// request is lost; whatever fails keeps its previous state and is reported.
func (n *Node) Reload() control.ReloadReport {
	n.mu.Lock()
	defer n.mu.Unlock()
	rep := control.ReloadReport{Applied: []string{}, NeedsRestart: []string{}, Reloaded: []string{}, Errors: []string{}}
	fail := func(err error) {
		rep.Errors = append(rep.Errors, err.Error())
		n.log.Error("reload: kept the previous state", "err", err)
	}
	next := n.cfg
	if n.LoadConfig != nil {
		loaded, err := n.LoadConfig()
		if err != nil {
			fail(fmt.Errorf("config not reloaded: %w", err))
		} else {
			next = loaded
		}
	}
	// TLS on a listener that had none (or the reverse) changes the listener itself.
	for _, tls := range []struct {
		on          bool
		cert, key   *string
		cur         [2]string
		certK, keyK string
	}{
		{n.wsCert != nil, &next.WS.TLSCert, &next.WS.TLSKey, [2]string{n.cfg.WS.TLSCert, n.cfg.WS.TLSKey}, "ws.tls_cert", "ws.tls_key"},
		{n.httpCert != nil, &next.HTTP.TLSCert, &next.HTTP.TLSKey, [2]string{n.cfg.HTTP.TLSCert, n.cfg.HTTP.TLSKey}, "http.tls_cert", "http.tls_key"},
	} {
		if tls.on != (*tls.cert != "") {
			rep.NeedsRestart = append(rep.NeedsRestart, tls.certK, tls.keyK)
			*tls.cert, *tls.key = tls.cur[0], tls.cur[1]
		}
	}
	rep.Kept = n.keepKeys(&next)
	live, restart := config.Diff(&n.cfg, &next)
	rep.Applied = append(rep.Applied, live...)
	rep.NeedsRestart = append(rep.NeedsRestart, restart...)
	slices.Sort(rep.NeedsRestart)
	rep.NeedsRestart = slices.Compact(rep.NeedsRestart)
	config.ApplyLive(&n.cfg, &next)
	cfg := n.cfg

	if err := n.logs.SetLevel(cfg.Log.Level); err != nil {
		fail(err)
	}
	out := n.logs.Output()
	switch {
	case cfg.Log.File != "" && cfg.Log.File != out.Path():
		if err := out.Open(cfg.Log.File); err != nil {
			fail(err)
		} else {
			rep.Reloaded = append(rep.Reloaded, "log file")
		}
	case out.Path() != "":
		if err := out.Reopen(); err != nil {
			fail(err)
		} else {
			rep.Reloaded = append(rep.Reloaded, "log file")
		}
	}
	if n.AfterLogReopen != nil && out.File() != nil {
		n.AfterLogReopen(out.File())
	}
	n.applyLimits(cfg)
	if n.wsCert != nil {
		if err := n.wsCert.Switch(cfg.WS.TLSCert, cfg.WS.TLSKey); err != nil {
			fail(fmt.Errorf("ws.tls_cert: %w (the old certificate stays in use)", err))
		} else {
			rep.Reloaded = append(rep.Reloaded, "ws.tls_cert")
		}
	}
	if n.httpCert != nil {
		if err := n.httpCert.Switch(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil {
			fail(fmt.Errorf("http.tls_cert: %w (the old certificate stays in use)", err))
		} else {
			rep.Reloaded = append(rep.Reloaded, "http.tls_cert")
		}
	}
	if n.pool != nil {
		spec, opts, err := poolConfig(cfg, n.push)
		if err != nil {
			fail(err)
		} else {
			n.pool.SetOptions(spec, opts)
			if err := n.pool.Reload(); err != nil {
				fail(err)
			} else {
				rep.Reloaded = append(rep.Reloaded, "php workers")
			}
		}
	}
	n.log.Info("reloaded", "applied", rep.Applied, "renewed", rep.Reloaded, "needs_restart", rep.NeedsRestart, "errors", len(rep.Errors))
	return rep
}

// keepKeys keeps the key of a backend listener that stays bound off
// loopback: a reload that empties api.key or text.key (moving the listener
// to loopback, which needs a restart) would otherwise leave the port open to
// the network without its key until then. It returns what it kept, and
// logs it.
func (n *Node) keepKeys(next *config.Config) []string {
	var kept []string
	for _, l := range []struct {
		name, bound string
		cur, next   *string
	}{
		{"api", n.cfg.API.Listen, &n.cfg.API.Key, &next.API.Key},
		{"text", n.cfg.Text.Listen, &n.cfg.Text.Key, &next.Text.Key},
	} {
		if *l.next != "" || *l.cur == "" || l.bound == "" {
			continue
		}
		if host, _, err := net.SplitHostPort(l.bound); err == nil && config.IsLoopback(host) {
			continue
		}
		*l.next = *l.cur
		msg := fmt.Sprintf("%s.key: the old key stays in force: the %s listener is bound to %s, off loopback, until a restart moves it", l.name, l.name, l.bound)
		kept = append(kept, msg)
		n.log.Warn("reload: " + msg)
	}
	return kept
}

// push runs a gateway operation that PHP code asked for inside a request
// (Thinkgate\Gateway over the worker pipe): the HTTP API's operations, the
// same decoding and the same results, without a TCP round trip.
func (n *Node) push(meta []byte) []byte {
	var call struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(meta, &call); err != nil || call.Method == "" {
		return []byte(`{"error":{"code":"invalid_json","message":"a push is {\"method\": ..., \"params\": {...}}"}}`)
	}
	if len(call.Params) == 0 {
		call.Params = []byte("{}")
	}
	var out []byte
	if res, aerr := api.Call(n.doer(), call.Method, call.Params); aerr != nil {
		out, _ = json.Marshal(map[string]any{"error": aerr})
	} else {
		out, _ = json.Marshal(map[string]any{"result": res})
	}
	return out
}

// Stop makes Run shut down: graceful waits up to process.stop_timeout for
// requests in flight, otherwise they are cut. Clients get 1001 either way.
func (n *Node) Stop(graceful bool) {
	n.stopOnce.Do(func() {
		n.fast.Store(!graceful)
		close(n.stopc)
	})
}

// Connections lists up to limit clients (0: all) in connection order.
func (n *Node) Connections(limit int, fn func(control.Connection) error) error {
	now := time.Now()
	for i, c := range n.Hub.Clients() {
		if limit > 0 && i >= limit {
			break
		}
		info := c.Info()
		groups := info.Groups
		if groups == nil {
			groups = []string{}
		}
		err := fn(control.Connection{
			ClientID: c.ID, UID: info.UID, Groups: groups, Remote: c.RemoteAddr(),
			AgeSeconds: int64(now.Sub(c.ConnectedAt()).Seconds()),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rates keeps messages in and out per second over the last second.
type rates struct {
	mu      sync.Mutex
	in, out float64
}

// sample updates the rates every second until ctx ends.
func (r *rates) sample(ctx context.Context, ws func() websocket.Stats, delivered *atomic.Uint64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastIn, lastOut, last := ws().MessagesReceived, delivered.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			in, out := ws().MessagesReceived, delivered.Load()
			secs := now.Sub(last).Seconds()
			r.mu.Lock()
			r.in, r.out = float64(in-lastIn)/secs, float64(out-lastOut)/secs
			r.mu.Unlock()
			lastIn, lastOut, last = in, out, now
		}
	}
}

func (r *rates) get() (in, out float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in, r.out
}
