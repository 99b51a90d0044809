// Package server wires one thinkgate node together: it opens the configured
// listeners, connects the WebSocket transport to the hub, serves the HTTP API
// and the Text port, and shuts everything down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/accept"
	"thinkgate/internal/admin"
	"thinkgate/internal/api"
	"thinkgate/internal/appserver"
	"thinkgate/internal/certs"
	"thinkgate/internal/clientid"
	"thinkgate/internal/cluster"
	"thinkgate/internal/config"
	"thinkgate/internal/control"
	"thinkgate/internal/events"
	"thinkgate/internal/events/phpsink"
	"thinkgate/internal/gwcompat"
	"thinkgate/internal/history"
	"thinkgate/internal/hub"
	"thinkgate/internal/inbox"
	"thinkgate/internal/logging"
	"thinkgate/internal/metrics"
	"thinkgate/internal/phpapp"
	"thinkgate/internal/phpworker"
	"thinkgate/internal/procstat"
	"thinkgate/internal/pusher"
	"thinkgate/internal/pusherapi"
	"thinkgate/internal/session"
	"thinkgate/internal/transport/sse"
	"thinkgate/internal/transport/websocket"
	"thinkgate/internal/watch"
	"thinkgate/internal/webhook"
	phpsdk "thinkgate/php"
)

// Version is the thinkgate version, set at build time with
// -ldflags "-X thinkgate/internal/server.Version=1.2.3"; otherwise "dev",
// followed by the commit the binary was built from when Go recorded it
// (go build in a git checkout): dev+3f2a9c1d0e4b, dev+...-dirty.
var Version = "dev"

func init() {
	if Version != "dev" {
		return
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return
	}
	Version += "+" + rev[:min(12, len(rev))]
	if dirty {
		Version += "-dirty"
	}
}

// Node is one running thinkgate node.
type Node struct {
	mu       sync.Mutex                       // guards cfg and serializes reloads
	cfg      config.Config                    // the configuration in force
	hb       atomic.Pointer[config.Heartbeat] // cfg.Heartbeat, read without mu
	pingWarn minuteLog
	recorder *admin.Recorder // the last client events, for the admin page
	log      *slog.Logger
	logs     *logging.Logger
	started  time.Time

	// LoadConfig re-reads the configuration for Reload; nil keeps the
	// current one (certificates, workers and the log file are still renewed).
	LoadConfig func() (config.Config, error)
	// Control, when set, is the control socket listener Run serves
	// (internal/control) and closes on the way out.
	Control net.Listener
	// Ready, when set, is called once every listener is serving.
	Ready func()
	// AfterLogReopen, when set, is called with the log file after a reload
	// reopened it (a daemon points its standard error there).
	AfterLogReopen func(*os.File)

	stopc    chan struct{} // closed by Stop
	stopOnce sync.Once
	fast     atomic.Bool // Stop(false): do not wait for requests in flight
	rates    rates

	Hub          *hub.Hub
	cluster      *cluster.Cluster // nil with cluster.engine = "memory"
	ws           websocket.Transport
	http         *http.Server
	api          *api.HTTP
	text         *api.Text
	register     *gwcompat.Register
	inner        *gwcompat.Inner
	workers      *gwcompat.Workers
	pool         *phpworker.Pool // nil without a PHP app
	metrics      *metrics.Metrics
	wsCert       *certs.Pair // nil: plain ws://
	httpCert     *certs.Pair // nil: plain http://
	app          *http.Server
	front        *appserver.Server // nil without a PHP app
	clients      *session.Manager  // the ws listener's clients
	history      *history.Doer     // nil without [history]
	inbox        *inbox.Doer       // the offline inbox, around history
	historyStore history.Store
	sse          *sse.Server   // Server-Sent Events on the ws listener
	pusherApps   *pusher.Apps  // nil without [[pusher.apps]]
	pusherCache  *pusher.Cache // cache- channels' last events
	hook         *webhook.Sink // nil unless events.sink = "webhook"

	listeners map[string]net.Listener
}

// Listen opens every configured listener, so that an unusable address fails
// before anything is served. The error names the config key.
func Listen(cfg config.Config, logs *logging.Logger) (*Node, error) {
	log := logs.Logger
	n := &Node{cfg: cfg, log: log, logs: logs, started: time.Now(), listeners: map[string]net.Listener{}, stopc: make(chan struct{})}
	var err error
	for _, l := range []struct{ name, key, addr string }{
		{"ws", "ws.listen", cfg.WS.Listen}, {"api", "api.listen", cfg.API.Listen}, {"text", "text.listen", cfg.Text.Listen},
		{"register", "gwcompat.register", cfg.GWCompat.Register}, {"inner", "gwcompat.inner", cfg.GWCompat.Inner},
		{"http", "http.listen", appListen(cfg)},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			n.closeListeners()
			return nil, fmt.Errorf("%s: %w", l.key, err)
		}
		n.listeners[l.name] = ln
	}
	if cfg.WS.TLSCert != "" {
		if n.wsCert, err = certs.Load(cfg.WS.TLSCert, cfg.WS.TLSKey); err != nil {
			n.closeListeners()
			return nil, fmt.Errorf("ws.tls_cert: %w", err)
		}
	}
	if cfg.HTTP.TLSCert != "" {
		if n.httpCert, err = certs.Load(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil {
			n.closeListeners()
			return nil, fmt.Errorf("http.tls_cert: %w", err)
		}
	}
	// client_ids encode lan_ip and the inner port actually bound.
	ids, err := clientid.NewGenerator(cfg.GWCompat.LanIP, n.port("inner", defaultInnerPort), time.Now())
	if err != nil {
		n.closeListeners()
		return nil, fmt.Errorf("gwcompat.lan_ip: %w", err)
	}
	n.Hub = hub.New(ids)
	if cfg.Cluster.Engine != "memory" {
		if n.cluster, err = joinCluster(cfg, n.Hub, ids.ID(0), n.port("ws", 0), log); err != nil {
			n.closeListeners()
			return nil, err
		}
	}
	if hasApp(cfg) {
		if n.pool, err = startPool(cfg, n.push, log); err != nil {
			n.closeListeners()
			n.leaveCluster()
			return nil, err
		}
	}
	return n, nil
}

// joinCluster connects to the cluster engine and registers this node under
// the address its client ids carry; its hub reports uid and group changes
// to the cluster's presence.
func joinCluster(cfg config.Config, h *hub.Hub, self clientid.ID, wsPort int, log *slog.Logger) (*cluster.Cluster, error) {
	c := cfg.Cluster
	id := cluster.NodeID(self)
	addr := net.JoinHostPort(net.IP(self.IP[:]).String(), strconv.Itoa(int(self.Port)))
	cl, err := cluster.New(context.Background(), h, id, cluster.Options{
		Engine: c.Engine, Redis: c.Redis, NATS: c.NATS, Prefix: c.Prefix, Expiry: c.Expiry.Duration, Timeout: c.Timeout.Duration,
		Broadcast: c.Routing == "broadcast", Addr: addr,
		Info: map[string]string{"ws": strconv.Itoa(wsPort), "pid": strconv.Itoa(os.Getpid()), "version": Version},
	}, log.With("component", "cluster"))
	if err != nil {
		return nil, err
	}
	h.Presence, h.GroupPresence = cl.Presence().UID, cl.Presence().Group
	log.Info("joined the cluster", "engine", c.Engine, "node", addr, "nodes", len(cl.Nodes()))
	return cl, nil
}

// followPeers keeps the Register's list of the cluster's other nodes
// current until ctx ends.
func (n *Node) followPeers(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var peers []string
		for _, node := range n.cluster.Nodes() {
			if node.ID != n.cluster.Self() {
				peers = append(peers, node.Addr)
			}
		}
		n.register.SetPeers(peers)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// doer runs API, Text and in-worker commands: across the cluster when there
// is one, else on this node's hub.
func (n *Node) doer() hub.Doer {
	if n.inbox != nil {
		return n.inbox
	}
	return n.recorded()
}

// recorded is the gateway with message history, when there is one.
func (n *Node) recorded() hub.Doer {
	if n.history != nil {
		return n.history
	}
	return n.gateway()
}

// gateway is the hub, or the cluster around it.
func (n *Node) gateway() hub.Doer {
	if n.cluster != nil {
		return n.cluster
	}
	return n.Hub
}

// startInbox keeps messages for uids that are away (in the cluster's Redis
// when there is one) and delivers them when the uid gets a client here.
func (n *Node) startInbox() {
	ic := n.cfg.Inbox
	var store inbox.Store = &inbox.MemoryStore{Size: ic.Size, TTL: ic.TTL.Duration}
	if n.cluster != nil {
		store = &inbox.RedisStore{RDB: n.cluster.Redis(), Prefix: n.cluster.Prefix(), Size: ic.Size, TTL: ic.TTL.Duration, Timeout: n.cluster.Timeout()}
	}
	n.inbox = &inbox.Doer{Next: n.recorded(), Deliver: n.gateway(), Store: store, Always: history.ParsePrefixes(ic.UIDs)}
	prev := n.Hub.Presence
	n.Hub.Presence = func(uid string, online bool) {
		if prev != nil {
			prev(uid, online)
		}
		if online {
			n.inbox.Online(uid)
		}
	}
}

// historyReader is the history store recovery reads, or nil.
func (n *Node) historyReader() session.HistoryReader {
	if n.historyStore == nil {
		return nil
	}
	return n.historyStore
}

// startHistory keeps the messages [history] names: in memory on one node,
// in the cluster's Redis when there is one.
func (n *Node) startHistory() {
	hc := n.cfg.History
	policy := history.Policy{UIDs: history.ParsePrefixes(hc.UIDs), Groups: history.ParsePrefixes(hc.Groups)}
	if !policy.On() {
		return
	}
	next := n.gateway()
	n.historyStore = &history.MemoryStore{Size: hc.Size, TTL: hc.TTL.Duration}
	if n.cluster != nil { // a client recovers on whichever node it reconnects to
		n.historyStore = &history.RedisStore{RDB: n.cluster.Redis(), Prefix: n.cluster.Prefix(), Size: hc.Size, TTL: hc.TTL.Duration,
			Timeout: n.cluster.Timeout()}
	}
	n.history = &history.Doer{Next: next, Store: n.historyStore, Policy: policy}
	n.log.Info("message history on", "uids", hc.UIDs, "groups", hc.Groups, "size", hc.Size, "ttl", hc.TTL.Duration)
}

// leaveCluster removes the node from the cluster's presence.
func (n *Node) leaveCluster() {
	if n.cluster != nil {
		if err := n.cluster.Close(); err != nil {
			n.log.Debug("leaving the cluster", "err", err)
		}
	}
}

// appListen is the http listener's address: only with a PHP app.
func appListen(cfg config.Config) string {
	if !hasApp(cfg) {
		return ""
	}
	return cfg.HTTP.Listen
}

// hasApp reports whether there is a PHP app to serve: php.entry names one,
// or php.app is a ThinkPHP project.
func hasApp(cfg config.Config) bool { return cfg.PHP.Entry != "" || phpapp.IsThinkPHP(cfg.PHP.App) }

// watching reports whether the app's files are watched for hot reload:
// php.watch, or a ThinkPHP project in debug mode (as php think run).
func watching(cfg config.Config) bool {
	return cfg.PHP.Watch || (cfg.PHP.Entry == "" && phpapp.ThinkPHPDebug(cfg.PHP.App))
}

// minuteLog lets a warning that can repeat (a limit reached again and
// again) be logged at most once a minute.
type minuteLog struct{ last atomic.Int64 }

// due reports whether the warning may be logged now, and if so takes the
// minute.
func (m *minuteLog) due() bool {
	now, last := time.Now().Unix(), m.last.Load()
	return now-last >= 60 && m.last.CompareAndSwap(last, now)
}

// warnNoServerPing says, when a BusinessWorker attaches, that idle clients
// are being closed with no server ping to keep them alive: a GatewayWorker
// app moved over unchanged relied on its gateway's pingInterval/pingData,
// and its idle users would drop every heartbeat.timeout (at most once a
// minute).
func (n *Node) warnNoServerPing(key string) {
	hb := n.hb.Load()
	if hb == nil || hb.Timeout.Duration == 0 || hb.ServerPing != "" {
		return
	}
	if n.pingWarn.due() {
		n.log.Warn("a BusinessWorker attached, and clients silent for heartbeat.timeout are closed with no server ping set: "+
			"carry over your gateway's pingInterval/pingData (heartbeat.server_ping_interval, heartbeat.server_ping) and "+
			"pingNotResponseLimit (heartbeat.timeout = \"0s\" for 0); see docs/migrate-from-gatewayworker.md",
			"worker", key, "heartbeat.timeout", hb.Timeout.Duration)
	}
}

// startPool installs the PHP SDK and boots the workers; a broken app fails
// here with PHP's own error.
func startPool(cfg config.Config, push func([]byte) []byte, log *slog.Logger) (*phpworker.Pool, error) {
	spec, opts, err := poolConfig(cfg, push)
	if err != nil {
		return nil, err
	}
	pool, err := phpworker.NewPool(spec, opts, log.With("component", "php"))
	if err != nil {
		return nil, fmt.Errorf("php: %w", err)
	}
	switch pool.Adapter {
	case "thinkphp":
		log.Info("php app: ThinkPHP detected; served through the ThinkPHP adapter", "framework", pool.Framework, "root", cfg.PHP.App)
	default:
		log.Info("php app: a plain handler", "entry", spec.Args[len(spec.Args)-1])
	}
	log.Info("php workers ready", "workers", opts.Workers, "worker", spec.Args[1:])
	return pool, nil
}

// poolConfig turns the php section into the pool's spec and options,
// installing the PHP SDK the workers run; push serves Gateway calls made
// inside requests.
func poolConfig(cfg config.Config, push func([]byte) []byte) (phpworker.Spec, phpworker.PoolOptions, error) {
	c := cfg.PHP
	var spec phpworker.Spec
	var opts phpworker.PoolOptions
	worker, err := phpsdk.Install(os.TempDir())
	if err != nil {
		return spec, opts, fmt.Errorf("php: %w", err)
	}
	var args []string
	env := []string{}
	if c.Entry == "" { // a ThinkPHP project (hasApp checked it)
		root, err := filepath.Abs(c.App)
		if err != nil {
			return spec, opts, fmt.Errorf("php.app: %w", err)
		}
		args = []string{worker, "--thinkphp", root}
		public := c.Public
		if !filepath.IsAbs(public) {
			public = filepath.Join(root, public)
		}
		env = append(env, "THINKGATE_TP_INDEX="+filepath.Join(public, "index.php"))
		if !c.Preload {
			env = append(env, "THINKGATE_TP_PRELOAD=0")
		}
	} else {
		entry := c.Entry
		if !filepath.IsAbs(entry) {
			entry = filepath.Join(c.App, entry)
		}
		if _, err := os.Stat(entry); err != nil {
			return spec, opts, fmt.Errorf("php.entry: %w", err)
		}
		args = []string{worker, entry}
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
		if watching(cfg) {
			// Hot reload means development: one worker, so that template
			// engines that write compiled files without locking (ThinkPHP's)
			// never have one worker read what another is half-way writing.
			workers = 1
		}
	}
	if c.Debug {
		env = append(env, "THINKGATE_DEBUG=1")
	}
	ev := cfg.Events
	for name, path := range map[string]string{"CONNECT": ev.OnConnect, "MESSAGE": ev.OnMessage, "CLOSE": ev.OnClose,
		"WORKER_START": ev.OnWorkerStart, "WORKER_STOP": ev.OnWorkerStop} {
		if path != "" {
			env = append(env, "THINKGATE_ON_"+name+"="+path)
		}
	}
	channel := c.Channel
	if channel == "auto" {
		channel = "" // phpworker.DefaultChannel
	}
	spec = phpworker.Spec{PHP: c.Binary, Args: args, Dir: c.App, Env: env, BootTimeout: c.BootTimeout.Duration, Push: push, Channel: channel,
		INI: []string{"memory_limit=" + c.MemoryLimit}, Limits: phpworker.Limits{Body: c.MaxResponse}}
	opts = phpworker.PoolOptions{
		Workers: workers, MaxJobs: c.MaxJobs, MaxMemory: int64(c.MaxMemory), RequestTimeout: c.RequestTimeout.Duration,
		QueueTimeout: c.QueueTimeout.Duration, StopGrace: 5 * time.Second,
	}
	return spec, opts, nil
}

// webhookOptions are the webhook sink's settings in the events section.
func webhookOptions(ev config.Events) webhook.Options {
	return webhook.Options{
		URL: ev.WebhookURL, Secret: ev.WebhookSecret, BatchSize: ev.WebhookBatch, BatchWait: ev.WebhookWait.Duration,
		Timeout: ev.WebhookTimeout.Duration, Retries: ev.WebhookRetries, OfflineDelay: ev.OfflineDelay.Duration,
	}
}

// startPusher serves the Pusher protocol at /app/ on the ws listener when
// apps are configured, and prepares its HTTP API (apiHandler).
func (n *Node) startPusher() {
	pc := n.cfg.Pusher
	if len(pc.Apps) == 0 {
		return
	}
	apps := make([]*pusher.App, 0, len(pc.Apps))
	hooks := map[*pusher.App]*pusher.Webhooks{}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, a := range pc.Apps {
		app := &pusher.App{ID: a.ID, Key: a.Key, Secret: a.Secret, Prefix: a.Prefix, MaxConnections: a.MaxConnections,
			ClientEventRate: a.ClientEventRate, WebhookURL: a.WebhookURL}
		apps = append(apps, app)
		if a.WebhookURL != "" {
			hooks[app] = &pusher.Webhooks{App: app, Client: client, Wait: 250 * time.Millisecond, Retries: 3,
				Log: n.log.With("component", "pusher-webhook")}
		}
	}
	activity := pc.ActivityTimeout.Duration
	if hb := n.cfg.Heartbeat.Timeout.Duration; hb > 0 {
		activity = min(activity, hb/2)
	}
	n.pusherApps = pusher.NewApps(apps)
	n.pusherCache = &pusher.Cache{TTL: pc.CacheTTL.Duration, Log: n.log}
	if n.cluster != nil { // every node sees what any cached
		n.pusherCache.Shared = n.cluster.KV("pusher-cache")
	}
	n.clients.Route("/app/", session.NewPusher(session.PusherOptions{
		Apps: n.pusherApps, Doer: n.doer(), ActivityTimeout: max(activity, time.Second),
		MaxPresenceMembers: pc.MaxPresenceMembers, Cache: n.pusherCache,
		Webhooks: func(a *pusher.App) *pusher.Webhooks { return hooks[a] },
	}))
	n.log.Info("pusher protocol on", "apps", len(apps), "ws_path", "/app/{key}", "api_path", "/apps/{id}/")
}

// apiHandler is the api listener's handler: the HTTP API, and Pusher's
// under /apps/ when apps are configured.
func (n *Node) apiHandler() http.Handler {
	if n.pusherApps == nil {
		return n.api
	}
	papi := pusherapi.New(pusherapi.Options{Apps: n.pusherApps, Doer: n.doer(), Cache: n.pusherCache,
		MaxBodySize: int64(n.cfg.API.MaxBodySize), Log: n.log})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/apps/") {
			papi.ServeHTTP(w, r)
			return
		}
		n.api.ServeHTTP(w, r)
	})
}

// newTransport picks the connection layer ws.transport names: epoll on
// Linux unless told otherwise, portable elsewhere and for wss:// (TLS keeps
// a stream per connection).
func newTransport(cfg config.Config, tls bool, m *session.Manager, fallback websocket.Fallback, log *slog.Logger) (websocket.Transport, error) {
	kind := cfg.WS.Transport
	if kind == "auto" {
		kind = "portable"
		if runtime.GOOS == "linux" {
			kind = "epoll"
		}
	}
	if tls || kind == "portable" {
		log.Debug("websocket transport", "kind", "portable", "tls", tls)
		return websocket.NewPortable(wsOptions(cfg, m.Check, fallback), m, log), nil
	}
	log.Debug("websocket transport", "kind", "epoll")
	return websocket.NewEpoll(wsOptions(cfg, m.Check, fallback), m, log)
}

// defaultInnerPort is encoded in client_ids when the inner listener is off.
const defaultInnerPort = 2900

func (n *Node) port(name string, fallback int) int {
	if ln := n.listeners[name]; ln != nil {
		return ln.Addr().(*net.TCPAddr).Port
	}
	return fallback
}

// Close releases what Listen opened, for a node that will not Run.
func (n *Node) Close() {
	n.closeListeners()
	n.leaveCluster()
	if n.pool != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.pool.Close(ctx)
	}
}

func (n *Node) closeListeners() {
	for _, ln := range n.listeners {
		ln.Close()
	}
}

// Run serves until ctx is cancelled, then shuts down gracefully: clients get
// a 1001 close frame, in-flight API calls and Text lines finish.
func (n *Node) Run(ctx context.Context) error {
	errc := make(chan error, len(n.listeners))
	var wg sync.WaitGroup
	serve := func(name string, f func(net.Listener) error) {
		ln := n.listeners[name]
		if ln == nil {
			return
		}
		n.log.Info("listening", "listener", name, "addr", ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ln); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	n.startHistory()
	n.startInbox()
	innerPort := n.port("inner", defaultInnerPort)
	n.workers = gwcompat.NewWorkers(net.ParseIP(n.cfg.GWCompat.LanIP), innerPort, n.port("ws", 0), n.log.With("listener", "inner"))
	n.workers.OnAttach = n.warnNoServerPing
	hb := n.cfg.Heartbeat
	n.hb.Store(&hb)
	advertised := "" // without an inner listener the Register has nothing of ours to list
	if n.listeners["inner"] != nil {
		advertised = fmt.Sprintf("%s:%d", n.cfg.GWCompat.LanIP, innerPort)
	}
	n.register = gwcompat.NewRegister(advertised, n.cfg.GWCompat.Secret, n.log.With("listener", "register"))
	n.inner = gwcompat.NewInner(n.Hub, n.cfg.GWCompat.Secret, n.workers, n.log.With("listener", "inner"))
	if n.cluster == nil { // in a cluster GatewayClient sends to every node: each would record and keep it
		n.inner.Sends = n.doer()
	}
	if n.cluster != nil { // the Register lists every live node
		go n.followPeers(ctx)
	}

	var err error
	n.recorder = &admin.Recorder{}
	sinks := events.Multi{n.workers, n.recorder}
	if ev := n.cfg.Events; ev.Sink == "webhook" {
		n.hook = webhook.New(webhookOptions(ev), n.log.With("component", "webhook"))
		if n.cluster != nil { // online and offline mean on the whole cluster
			n.hook.OnlineElsewhere = n.cluster.UIDOnlineElsewhere
			n.hook.OnlineFirst = n.cluster.UIDFirstHere
		}
		if toCluster := n.Hub.Presence; toCluster != nil {
			n.Hub.Presence = func(uid string, online bool) { toCluster(uid, online); n.hook.Presence(uid, online) }
		} else {
			n.Hub.Presence = n.hook.Presence
		}
		sinks = append(sinks, n.hook)
	}
	if n.cfg.Events.Sink == "php" {
		if n.pool == nil {
			n.closeListeners()
			n.leaveCluster()
			return errors.New("events.sink: \"php\" needs a PHP app (php.entry, or a ThinkPHP project in php.app)")
		}
		sinks = append(sinks, phpsink.New(n.pool, n.Hub, n.log.With("component", "php-events")))
	}
	n.clients = session.NewManager(session.Options{
		Hub: n.Hub, Sink: sinks, Origins: n.cfg.Auth.Origins, Limits: sessionLimits(n.cfg.Limits), Log: n.log,
		Limited: func(limit string) { n.metrics.RateLimited(limit) }, // metrics exist once a client comes
	}, session.NewNative(session.NativeOptions{
		InitMessage: n.cfg.WS.InitMessage, BindFirst: n.cfg.WS.BindUIDFromFirstMessage,
		Secret: n.cfg.Auth.Secret, Required: n.cfg.Auth.Required, AuthTimeout: n.cfg.Auth.Timeout.Duration,
		History: n.historyReader(),
	}))
	n.startPusher()
	// Server-Sent Events at /sse on the same port, for networks that break WebSocket.
	sseNative := session.NewNative(session.NativeOptions{
		InitMessage: true, Secret: n.cfg.Auth.Secret, Required: n.cfg.Auth.Required, AuthTimeout: n.cfg.Auth.Timeout.Duration,
		History: n.historyReader(), SSE: true,
	})
	n.clients.Route("/sse", sseNative)
	n.sse = sse.New(sse.Options{Path: "/sse", MaxSendBuffer: n.cfg.WS.MaxSendBuffer, MaxMessage: n.cfg.WS.MaxMessageSize,
		Heartbeat: 25 * time.Second, WriteTimeout: 10 * time.Second, Check: n.clients.Check}, n.clients, n.log.With("listener", "sse"))
	n.ws, err = newTransport(n.cfg, n.wsCert != nil, n.clients, n.sse, n.log.With("listener", "ws"))
	if err != nil {
		n.closeListeners()
		n.leaveCluster()
		return fmt.Errorf("ws.transport: %w", err)
	}
	src := metrics.Sources{Hub: n.Hub, WS: n.ws.Stats}
	if n.pool != nil {
		src.Pool = n.pool.Stats
	}
	if n.cluster != nil {
		src.Cluster = func() (cluster.Stats, int) { return n.cluster.Stats(), len(n.cluster.Nodes()) }
	}
	n.metrics = metrics.New(src)
	n.Hub.Observe = n.metrics.Command
	n.api = api.NewHTTP(n.doer(), api.HTTPOptions{
		Key: n.cfg.API.Key, MaxBodySize: int64(n.cfg.API.MaxBodySize), Status: n.Status,
		Metrics: n.metrics.Handler(), Observe: n.metrics.APIRequest,
		Limited: func() { n.metrics.RateLimited("api_rate") },
		Admin: admin.Handler(n.recorder, func() string {
			var b strings.Builder
			cfg := n.config()
			config.Write(&b, &cfg) // secrets masked
			return b.String()
		}),
	}, n.log)
	n.api.SetRate(n.cfg.Limits.APIRate)
	n.http = &http.Server{
		Handler:           n.apiHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // headers and body
		IdleTimeout:       n.cfg.API.IdleTimeout.Duration,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	n.text = api.NewText(n.doer(), api.TextOptions{Key: n.cfg.Text.Key, MaxLineSize: n.cfg.Text.MaxLineSize,
		IdleTimeout: n.cfg.Text.IdleTimeout.Duration}, n.log.With("listener", "text"))
	// Each backend port holds at most its cap of connections; the rest wait
	// in the kernel's queue, costing no descriptor (see maxConnections).
	caps := backendCaps(n.cfg)
	budget := []any{"open_files_limit", openFilesLimit(), "ws.max_connections", maxConnections(n.cfg)}
	if n.pool != nil {
		budget = append(budget, "http.max_connections", httpMaxConnections(n.cfg))
	}
	for _, name := range []string{"api", "text", "register", "inner"} {
		if c, ok := caps[name]; ok {
			budget = append(budget, name, c.n)
		}
	}
	n.log.Info("descriptor budget: connections each listener accepts at most", budget...)
	for _, name := range []string{"api", "text", "register", "inner"} {
		if ln := n.listeners[name]; ln != nil {
			key, limit := caps[name].key, caps[name].n
			var warn minuteLog
			n.listeners[name] = accept.Limit(ln, limit, func() {
				if warn.due() {
					n.log.Warn("connection limit reached; new connections wait", "listener", name, key, limit)
				}
			})
		}
	}

	if n.wsCert != nil && n.listeners["ws"] != nil { // wss://
		n.listeners["ws"] = tls.NewListener(n.listeners["ws"], n.wsCert.Config("http/1.1"))
	}
	serve("ws", n.ws.Serve)
	serve("api", func(ln net.Listener) error {
		if err := n.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	serve("text", n.text.Serve)
	serve("register", n.register.Serve)
	serve("inner", n.inner.Serve)
	if n.pool != nil {
		public := n.cfg.PHP.Public
		if !filepath.IsAbs(public) {
			public = filepath.Join(n.cfg.PHP.App, public)
		}
		docroot, _ := filepath.Abs(public)
		// Uploads in flight are spooled in a directory of this instance's
		// own (named by the http port it holds), emptied at start: one
		// killed with SIGKILL leaves its spooled uploads there.
		spool, stale, err := appserver.PrepareSpool(filepath.Join(os.TempDir(), fmt.Sprintf("thinkgate-%d-uploads-%d", os.Getuid(), n.port("http", 0))))
		if err != nil {
			n.log.Warn("uploads are spooled in the system temp directory", "err", err)
		}
		if stale > 0 {
			n.log.Info("removed uploads a previous process left behind", "dir", spool, "files", stale)
		}
		n.front = appserver.New(n.pool, appserver.Options{
			UploadDir: spool,
			Public:    public, DocumentRoot: docroot, MaxBody: int64(n.cfg.HTTP.MaxBodySize), MaxUpload: int64(n.cfg.HTTP.MaxUploadSize),
			FollowSymlinks: n.cfg.HTTP.FollowSymlinks, Observe: n.metrics.PHPRequest,
		}, n.log.With("listener", "http"))
		n.app = &http.Server{
			Handler:           n.front,
			ReadHeaderTimeout: appserver.ReadHeaderTimeout,
			ReadTimeout:       n.cfg.HTTP.ReadTimeout.Duration,
			IdleTimeout:       appserver.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		}
		if watching(n.cfg) {
			wctx, stopWatch := context.WithCancel(ctx)
			defer stopWatch()
			go watch.Run(wctx, watch.DefaultOptions(n.cfg.PHP.App), n.log.With("component", "watch"), func(file string) {
				n.log.Info("file changed; reloading PHP workers", "file", file)
				if err := n.pool.Reload(); err != nil {
					n.log.Error("reload failed; the old workers keep serving", "err", err)
				}
			})
		}
		var fullWarn minuteLog
		httpCap := httpMaxConnections(n.cfg) // read here: Reload rewrites n.cfg
		serve("http", func(ln net.Listener) error {
			ln = accept.Limit(ln, httpCap, func() {
				if fullWarn.due() {
					n.log.Warn("http connection limit reached; new connections wait", "http.max_connections", httpCap)
				}
			})
			var err error
			if n.httpCert != nil { // https:// with HTTP/2
				n.app.TLSConfig = n.httpCert.Config("h2", "http/1.1")
				err = n.app.ServeTLS(ln, "", "")
			} else {
				err = n.app.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	n.applyLimits(n.cfg)
	rctx, stopRates := context.WithCancel(ctx)
	defer stopRates()
	go n.rates.sample(rctx, n.ws.Stats, &n.metrics.Delivered)
	if n.Control != nil {
		cctx, stopControl := context.WithCancel(context.Background())
		defer stopControl()
		go func() {
			if err := control.Serve(cctx, n.Control, n); err != nil {
				n.log.Error("control socket failed", "err", err)
			}
		}()
	}
	n.log.Info("thinkgate started", "version", Version, "pid", os.Getpid())
	if n.Ready != nil {
		n.Ready()
	}

	var runErr error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
	case <-n.stopc:
		if n.fast.Load() {
			n.log.Info("stopping now: requests in flight are cut, clients get 1001")
		} else {
			n.log.Info("stopping gracefully: waiting for requests in flight", "timeout", n.config().Process.StopTimeout.Duration)
		}
	case runErr = <-errc:
		n.log.Error("listener failed; shutting down", "err", runErr)
	}
	errs := n.shutdown()
	wg.Wait()
	n.log.Info("stopped")
	return errors.Join(append([]error{runErr}, errs...)...)
}

// shutdown stops every listener. Backend sources go first, so in-flight
// pushes complete while clients are still there; WebSocket clients get a
// 1001 close last. A graceful stop waits up to process.stop_timeout for
// requests in flight; a fast one cuts them.
func (n *Node) shutdown() []error {
	fast := n.fast.Load()
	grace := n.config().Process.StopTimeout.Duration
	if fast {
		grace = 0
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var errs []error
	keep := func(err error) {
		if err != nil && !(fast && errors.Is(err, context.DeadlineExceeded)) {
			errs = append(errs, err)
		}
	}
	if err := n.http.Shutdown(sctx); err != nil {
		n.http.Close()
		keep(fmt.Errorf("api shutdown: %w", err))
	}
	keep(n.text.Shutdown(sctx))
	keep(n.inner.Shutdown(sctx))
	keep(n.register.Shutdown(sctx))
	if n.app != nil {
		if err := n.app.Shutdown(sctx); err != nil {
			n.app.Close()
			keep(fmt.Errorf("http shutdown: %w", err))
		}
		keep(n.pool.Close(sctx))
	}
	// Event streams end with a close event (1001, going away), as
	// WebSocket clients get their close frame.
	n.sse.Shutdown()
	// Clients get their close frame even in a fast stop.
	wctx, wcancel := context.WithTimeout(context.Background(), max(time.Until(deadline(sctx)), time.Second))
	defer wcancel()
	if err := n.ws.Shutdown(wctx); err != nil {
		errs = append(errs, err)
	}
	n.leaveCluster()   // after the clients: pushes in flight reached them
	if n.hook != nil { // after the clients, so their close events go out too
		hctx, hcancel := context.WithTimeout(context.Background(), max(time.Until(deadline(sctx)), 2*time.Second))
		defer hcancel()
		keep(n.hook.Shutdown(hctx))
	}
	return errs
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// Status is the /status document; it is served only once Run has started
// the listeners.
func (n *Node) Status() any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	listeners := map[string]any{}
	for name, ln := range n.listeners {
		l := map[string]any{"addr": ln.Addr().String()}
		switch name {
		case "ws":
			l["stats"] = n.ws.Stats()
		case "api":
			l["requests"] = n.api.Requests.Load()
		case "text":
			l["accepted"], l["active"], l["requests"] = n.text.Accepted.Load(), n.text.Active(), n.text.Requests.Load()
		case "inner":
			l["accepted"], l["active"], l["packets"], l["business_workers"] = n.inner.Accepted.Load(), n.inner.Active(), n.inner.Packets.Load(), n.workers.Count()
		case "register":
			l["addresses"] = n.register.Addresses()
		case "http":
			l["php"] = n.pool.Stats()
		}
		listeners[name] = l
	}
	in, out := n.rates.get()
	return map[string]any{
		"version":                 Version,
		"pid":                     os.Getpid(),
		"started":                 n.started.UTC().Format(time.RFC3339),
		"uptime_seconds":          int64(time.Since(n.started).Seconds()),
		"clients":                 n.Hub.ClientCount(),
		"uids":                    n.Hub.UIDCount(),
		"groups":                  n.Hub.GroupCount(),
		"goroutines":              runtime.NumGoroutine(),
		"messages_in_per_second":  in,
		"messages_out_per_second": out,
		"memory": map[string]any{
			"heap_alloc_bytes": ms.HeapAlloc, "sys_bytes": ms.Sys, "gc_cycles": ms.NumGC, "rss_bytes": procstat.RSS(os.Getpid()),
		},
		"listeners": listeners,
		"cluster":   n.clusterStatus(),
	}
}

func (n *Node) clusterStatus() any {
	if n.cluster == nil {
		return map[string]any{"engine": "memory"}
	}
	return n.cluster.Describe()
}
