// Package config holds thinkgate's configuration: the embedded defaults, loading
// from a TOML file and THINKGATE_* environment variables, and validation.
//
// Every key carries a `doc` tag; `thinkgate config` prints the effective
// configuration with those docs as comments, and docs/config.md lists them.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration of one thinkgate node.
type Config struct {
	WS        WS        `toml:"ws" doc:"The public WebSocket listener that browsers and apps connect to."`
	Heartbeat Heartbeat `toml:"heartbeat" doc:"Client liveness: idle timeout, the 'ping' text message, optional server pings."`
	API       API       `toml:"api" doc:"The HTTP JSON push/query API for app backends, with /healthz and /status."`
	Text      Text      `toml:"text" doc:"The newline-delimited JSON push port (Workerman Text framing)."`
	GWCompat  GWCompat  `toml:"gwcompat" doc:"GatewayWorker compatibility: Register and inner ports for unchanged PHP GatewayClient and BusinessWorker."`
	HTTP      HTTP      `toml:"http" doc:"The HTTP front of the resident PHP app; started only when php.entry is set."`
	PHP       PHP       `toml:"php" doc:"Resident PHP workers: the app, the pool and its limits."`
	Log       Log       `toml:"log" doc:"Logging."`
	Events    Events    `toml:"events" doc:"Where WebSocket client events (connect, message, close; uid online and offline) go besides attached BusinessWorkers."`
	Auth      Auth      `toml:"auth" doc:"Connect tokens (HS256 JWT) and the browser Origin allow-list."`
	Limits    Limits    `toml:"limits" doc:"Rate limits per client address, per connection and per API key; past one a client gets 429 or close 4008. 0 turns one off."`
	Process   Process   `toml:"process" doc:"Files of a running instance: the pid file and the control socket used by stop, reload, status and connections."`
	Cluster   Cluster   `toml:"cluster" doc:"Several nodes as one gateway through Redis or NATS; memory keeps one node on its own."`
	History   History   `toml:"history" doc:"Recent messages of uids and groups, kept so that a client that reconnects gets what it missed (thinkgate.js, docs/recovery.md); off until uids or groups name some."`
	Inbox     Inbox     `toml:"inbox" doc:"Messages to uids with no client, kept and delivered when the uid next connects: sendToUid with \"store\": true, or always for the uids named here."`
	Pusher    Pusher    `toml:"pusher" doc:"The Pusher Channels protocol (pusher-js, Laravel Echo, webman/push) on the ws listener at /app/{key} and its HTTP API on the api listener at /apps/{id}/; off until an app is configured (docs/pusher.md)."`
}

// History configures message history and recovery (docs/recovery.md).
type History struct {
	UIDs   string   `toml:"uids" doc:"Uids whose messages are kept: comma-separated prefixes, \"*\" for all; empty: none."`
	Groups string   `toml:"groups" doc:"Groups whose messages are kept: comma-separated prefixes, \"*\" for all; empty: none."`
	Size   int      `toml:"size" doc:"Messages kept per uid or group; a client that missed more gets recovered: false."`
	TTL    Duration `toml:"ttl" doc:"How long a message is kept; a stream with no message for this long starts over with a new epoch."`
}

// Inbox configures the offline inbox (docs/recovery.md).
type Inbox struct {
	UIDs string   `toml:"uids" doc:"Uids whose messages are always kept while they have no client: comma-separated prefixes, \"*\" for all; empty: only sends with \"store\": true."`
	Size int      `toml:"size" doc:"Messages kept per uid; past it the oldest go."`
	TTL  Duration `toml:"ttl" doc:"How long a kept message waits for its uid."`
}

// Pusher configures the Pusher Channels protocol (docs/pusher.md).
type Pusher struct {
	ActivityTimeout    Duration    `toml:"activity_timeout" doc:"The activity_timeout told to Pusher clients: after this long without a message they send pusher:ping. At most half of heartbeat.timeout is told, which closes a silent client."`
	CacheTTL           Duration    `toml:"cache_ttl" doc:"How long a cache- channel keeps its last event for new subscribers."`
	MaxPresenceMembers int         `toml:"max_presence_members" doc:"Users one presence- channel may hold; one more gets a subscription error."`
	Apps               []PusherApp `toml:"apps" doc:"The apps, each a [[pusher.apps]] table with id, key and secret (and optionally prefix, max_connections, client_event_rate, webhook_url)."`
}

// PusherApp is one Pusher app: its credentials and limits.
type PusherApp struct {
	ID              string `toml:"id" doc:"The app id (pusher-php-server's app_id, the /apps/{id}/ of the HTTP API)."`
	Key             string `toml:"key" doc:"The public key clients connect with (/app/{key})."`
	Secret          string `toml:"secret" secret:"" doc:"Signs channel authorizations, user sign-ins, HTTP API requests and webhooks."`
	Prefix          string `toml:"prefix" doc:"Put in front of channel names and user ids to make the app's groups and uids, ending with ':' (e.g. \"shop:\"); empty (one app): channel chat is group chat. Apps need distinct prefixes."`
	MaxConnections  int    `toml:"max_connections" doc:"Clients of this app at once; one more gets pusher:error 4100 and is closed. 0: no limit."`
	ClientEventRate int    `toml:"client_event_rate" doc:"Client events per second one connection may send; past it, pusher:error 4301. 0: 10; -1: client events are refused."`
	WebhookURL      string `toml:"webhook_url" doc:"Where Pusher webhooks (channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss) are POSTed, signed with the secret. Empty: none."`
}

// Limits are the rate limits (docs/config.md, limits); every one is live.
type Limits struct {
	ConnectionsPerIP int  `toml:"connections_per_ip" live:"" doc:"WebSocket clients from one address at once; one more gets HTTP 429 at the handshake."`
	ConnectRatePerIP int  `toml:"connect_rate_per_ip" live:"" doc:"New WebSocket clients per second from one address (bursts of twice that); more get HTTP 429 at the handshake."`
	MessageRate      int  `toml:"message_rate" live:"" doc:"Messages per second one WebSocket client may send (bursts of twice that); past it the client is closed with 4008."`
	APIRate          int  `toml:"api_rate" live:"" doc:"HTTP API requests per second per API key (per address without api.key; bursts of twice that); more get 429 with code rate_limited."`
	Loopback         bool `toml:"loopback" live:"" doc:"Apply the per-address limits to loopback clients too; off, a reverse proxy on this machine (every client from 127.0.0.1) is not limited as one address."`
}

// Cluster configures how nodes share one gateway (docs/cluster.md).
type Cluster struct {
	Engine  string   `toml:"engine" doc:"memory (one node, no engine), redis (Redis >= 6: requests over pub/sub, presence in sets) or nats (requests over core NATS, presence in Redis)."`
	Redis   string   `toml:"redis" secret:"url" doc:"Redis URL (redis://[:password@]host:port/db): presence for both engines, requests for engine = \"redis\"."`
	NATS    string   `toml:"nats" secret:"url" doc:"NATS URL (nats://host:4222) for engine = \"nats\"."`
	Prefix  string   `toml:"prefix" doc:"Prefix of every Redis key, channel and NATS subject; nodes with the same prefix form one gateway."`
	Expiry  Duration `toml:"expiry" doc:"A node that stops renewing its presence (killed, cut off) drops out of every answer after this; it renews every third of it."`
	Timeout Duration `toml:"timeout" doc:"How long a command waits for other nodes and for the engine before it fails."`
	Routing string   `toml:"routing" doc:"interest: uid and group pushes go only to nodes with members; broadcast: to every node (for comparison)."`
}

// WS configures the WebSocket listener.
type WS struct {
	Listen                  string   `toml:"listen" doc:"Address to listen on; empty turns the listener off."`
	InitMessage             bool     `toml:"init_message" doc:"Send {\"type\":\"init\",\"client_id\":\"...\"} to every new client."`
	MaxMessageSize          int      `toml:"max_message_size" live:"" doc:"Largest inbound message in bytes (all fragments); larger closes the client with 1009."`
	MaxSendBuffer           int      `toml:"max_send_buffer" live:"" doc:"A client with this many bytes waiting to be sent is closed as too slow when the next message comes. One message is always taken while less waits, whatever its size, so a push larger than this reaches every client that reads."`
	HandshakeTimeout        Duration `toml:"handshake_timeout" live:"" doc:"Time a new connection has to finish the WebSocket handshake."`
	MaxHeaderSize           int      `toml:"max_header_size" live:"" doc:"Largest handshake request (request line and headers) in bytes; larger gets HTTP 431."`
	BindUIDFromFirstMessage bool     `toml:"bind_uid_from_first_message" doc:"Bind each client to the uid given by its first text message (the classic push.php mode)."`
	TLSCert                 string   `toml:"tls_cert" live:"" doc:"PEM certificate (chain) file: with tls_key, clients connect with wss://. Re-read on reload."`
	TLSKey                  string   `toml:"tls_key" live:"" doc:"PEM private key file for tls_cert."`
	MaxConnections          int      `toml:"max_connections" live:"" doc:"Most WebSocket clients at once; more get HTTP 503 at the handshake. 0: as many as the open-files limit allows after a reserve for the backend ports and PHP workers."`
	Transport               string   `toml:"transport" doc:"Connection layer: epoll (Linux: no goroutine or buffer per idle connection), portable (a goroutine per connection; any OS), or auto (epoll on Linux, else portable). wss:// always uses portable."`
}

// Heartbeat configures client liveness (docs/config.md, heartbeat).
type Heartbeat struct {
	Timeout            Duration `toml:"timeout" live:"" doc:"Close a client that sends no frame for this long; 0 disables."`
	Reply              string   `toml:"reply" live:"" doc:"Text sent back when a client sends the text message 'ping'; empty sends nothing."`
	ServerPing         string   `toml:"server_ping" live:"" doc:"Text the server sends to a client idle for server_ping_interval (GatewayWorker pingData); empty sends nothing."`
	ServerPingInterval Duration `toml:"server_ping_interval" live:"" doc:"How often idle clients get server_ping."`
}

// API configures the HTTP API listener.
type API struct {
	Listen         string   `toml:"listen" doc:"Address to listen on; empty turns the listener off."`
	Key            string   `toml:"key" live:"" secret:"" doc:"When set, every /api and /status request needs 'Authorization: Bearer <key>'. Required off loopback."`
	MaxBodySize    int      `toml:"max_body_size" live:"" doc:"Largest request body in bytes; larger gets 413."`
	MaxConnections int      `toml:"max_connections" doc:"Most connections to the API at once; more wait in the kernel's queue, costing no file descriptor. 0: 256 (less under a small open-files limit)."`
	IdleTimeout    Duration `toml:"idle_timeout" doc:"A keep-alive connection with no request for this long is closed."`
}

// Text configures the Text push port.
type Text struct {
	Listen         string   `toml:"listen" doc:"Address to listen on; empty turns the listener off."`
	Key            string   `toml:"key" live:"" secret:"" doc:"When set, a connection must first send {\"method\":\"auth\",\"key\":\"...\"}. Required off loopback."`
	MaxLineSize    int      `toml:"max_line_size" live:"" doc:"Longest request line in bytes; a longer line closes the connection."`
	MaxConnections int      `toml:"max_connections" doc:"Most connections to the Text port at once; more wait in the kernel's queue, costing no file descriptor. 0: 1024 (less under a small open-files limit)."`
	IdleTimeout    Duration `toml:"idle_timeout" doc:"A connection that sends no line for this long is closed."`
}

// GWCompat configures the GatewayWorker Register and inner listeners.
type GWCompat struct {
	Register       string `toml:"register" doc:"Register listener (GatewayClient's and BusinessWorker's registerAddress); empty turns it off. Required off loopback: secret."`
	Inner          string `toml:"inner" doc:"Inner listener speaking GatewayWorker's binary protocol; empty turns it off. Its port goes into every client_id. Required off loopback: secret."`
	LanIP          string `toml:"lan_ip" doc:"IPv4 address advertised by the Register and encoded in client_ids (GatewayWorker lanIp); GatewayClient connects to lan_ip and the inner port."`
	Secret         string `toml:"secret" secret:"" doc:"GatewayWorker secretKey, the same on GatewayClient and BusinessWorker; empty means none."`
	MaxConnections int    `toml:"max_connections" doc:"Most connections to each of the Register and inner ports at once; more wait in the kernel's queue. 0: 1024 (less under a small open-files limit)."`
}

// HTTP configures the app's HTTP listener.
type HTTP struct {
	Listen         string   `toml:"listen" doc:"Address to listen on; empty turns the listener off."`
	MaxBodySize    int      `toml:"max_body_size" live:"" doc:"Largest request body in bytes (PHP's post_max_size); larger gets 413."`
	MaxUploadSize  int      `toml:"max_upload_size" live:"" doc:"Largest uploaded file in bytes (upload_max_filesize); larger reaches PHP with error 1 (UPLOAD_ERR_INI_SIZE)."`
	TLSCert        string   `toml:"tls_cert" live:"" doc:"PEM certificate (chain) file: with tls_key, the app is served over HTTPS with HTTP/2. Re-read on reload."`
	TLSKey         string   `toml:"tls_key" live:"" doc:"PEM private key file for tls_cert."`
	ReadTimeout    Duration `toml:"read_timeout" doc:"Time a client has to send a whole request, headers and body; past it the connection is closed."`
	MaxConnections int      `toml:"max_connections" doc:"Most connections to the http listener at once; more wait in the kernel's queue, costing no file descriptor. 0: a quarter of the open-files limit."`
	FollowSymlinks bool     `toml:"follow_symlinks" doc:"Serve static files through symbolic links that lead out of php.public (a storage link); off, such links are passed to the app like missing files."`
}

// PHP configures the resident PHP workers.
type PHP struct {
	App            string   `toml:"app" doc:"The app's root directory; relative paths below are relative to it."`
	Entry          string   `toml:"entry" doc:"A PHP file that boots the app once and returns its handler, function (Thinkgate\\Request $r): string|array|Thinkgate\\Response. Empty: serve php.app with the ThinkPHP adapter if it is a ThinkPHP 6/8 project, else no PHP app."`
	Public         string   `toml:"public" doc:"Directory of static files served by Go (never .php, never dot-files)."`
	Binary         string   `toml:"binary" doc:"The php-cli binary."`
	Workers        int      `toml:"workers" live:"" doc:"PHP worker processes; 0 means one per CPU."`
	MaxJobs        int      `toml:"max_jobs" live:"" doc:"Replace a worker after about this many requests (±12%); 0 never."`
	MaxMemory      int      `toml:"max_memory" live:"" doc:"Replace a worker whose PHP memory passes this many bytes after a response; 0 never."`
	RequestTimeout Duration `toml:"request_timeout" live:"" doc:"Wall-clock limit of one request; past it the worker is killed and the client gets 504."`
	QueueTimeout   Duration `toml:"queue_timeout" live:"" doc:"How long a request waits for a free worker before 503 with Retry-After."`
	BootTimeout    Duration `toml:"boot_timeout" live:"" doc:"Time a new worker has to boot the app and report ready."`
	Debug          bool     `toml:"debug" live:"" doc:"Show exception messages in 500 responses."`
	Watch          bool     `toml:"watch" doc:"Reload the workers when the app's PHP, config or .env files change (development; also thinkgate start -watch). With workers = 0 it runs one worker, so templates are never compiled by two at once."`
	MemoryLimit    string   `toml:"memory_limit" doc:"PHP's memory_limit in each worker (php-cli's own default is unlimited): a request that allocates more dies with PHP's fatal error, gets 500, and its worker is replaced. -1 for none."`
	Channel        string   `toml:"channel" doc:"How workers and thinkgate exchange requests: pipes (two extra descriptors per worker; not on Windows), tcp (a loopback connection each worker opens back to thinkgate with a one-time token), or auto (tcp on Windows, pipes elsewhere)."`
	MaxResponse    int      `toml:"max_response" doc:"Largest whole response, in bytes, a worker may send; a larger one gets 502 and the worker is replaced (stream bigger files with Thinkgate\\Response::stream or a file response)."`
	Preload        bool     `toml:"preload" doc:"ThinkPHP: load app/middleware.php once per worker and each route folder's files once, at their first request (true); false loads them on every request, as php think run does (for route files that depend on the request)."`
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level" live:"" doc:"debug, info, warn or error."`
	Format string `toml:"format" doc:"text or json."`
	File   string `toml:"file" live:"" doc:"Append the log to this file, reopened on reload (logrotate); empty: standard error, or runtime/thinkgate.log beside the pid file under start -d."`
	Access bool   `toml:"access" live:"" doc:"Log one line per request to the PHP app's HTTP listener."`
}

// Events configures the event sink.
type Events struct {
	Sink           string   `toml:"sink" doc:"none; webhook: POST events to webhook_url; php: run them in the resident PHP workers (the app's 'ws' handler). BusinessWorkers attached through gwcompat get them either way."`
	WebhookURL     string   `toml:"webhook_url" live:"" doc:"The app's URL that receives {\"events\": [...]} POSTs."`
	WebhookSecret  string   `toml:"webhook_secret" live:"" secret:"" doc:"Key of the X-Thinkgate-Signature HMAC-SHA256 header; the app checks it and the timestamp."`
	WebhookBatch   int      `toml:"webhook_batch" live:"" doc:"Events per POST at most."`
	WebhookWait    Duration `toml:"webhook_wait" live:"" doc:"How long an event may wait for others to share its POST."`
	WebhookTimeout Duration `toml:"webhook_timeout" live:"" doc:"Time limit of one POST."`
	WebhookRetries int      `toml:"webhook_retries" live:"" doc:"Further attempts, with growing pauses, for close and offline events after a failed POST; other events are not retried."`
	OnConnect      string   `toml:"on_connect" doc:"ThinkPHP with sink = php: the controller path (index/Ws/connect) that handles a client's connect; an answer of status 400 or more refuses it."`
	OnMessage      string   `toml:"on_message" doc:"ThinkPHP with sink = php: the path for messages that are not JSON with a pathInfo field (those go to their pathInfo)."`
	OnClose        string   `toml:"on_close" doc:"ThinkPHP with sink = php: the path that handles a client's close."`
	OnWorkerStart  string   `toml:"on_worker_start" doc:"ThinkPHP: a path requested once in each PHP worker after it boots."`
	OnWorkerStop   string   `toml:"on_worker_stop" doc:"ThinkPHP: a path requested once in each PHP worker before it exits."`
	OfflineDelay   Duration `toml:"offline_delay" live:"" doc:"An uid whose last client left is reported offline only after this long; back sooner (a reload), neither offline nor online is sent. 0 reports at once."`
}

// Auth configures connect tokens and Origin checks.
type Auth struct {
	Secret   string   `toml:"secret" secret:"" doc:"HS256 key of connect tokens: ws://host:2828/?token=JWT or a first message {\"type\":\"auth\",\"token\":JWT} binds sub as the uid and joins groups. Empty: no tokens."`
	Required bool     `toml:"required" doc:"Every client must authenticate: a bad URL token gets HTTP 401, a client without one must send the auth message within auth.timeout or is closed with 4001."`
	Timeout  Duration `toml:"timeout" doc:"How long a client without a URL token has to send its auth message when auth.required is on."`
	Origins  string   `toml:"origins" doc:"Comma-separated Origin values browsers may connect from (https://app.example.com); empty allows any. Clients that send no Origin (apps, devices) are not checked."`
}

// Process configures the files through which the verbs find a running instance.
type Process struct {
	PidFile       string   `toml:"pid_file" doc:"Pid file; empty: runtime/thinkgate.pid under php.app when that directory exists, else thinkgate.pid in php.app."`
	ControlSocket string   `toml:"control_socket" doc:"Unix control socket (owner-only) for stop, reload, status and connections; empty: the pid file's path ending in .sock."`
	StopTimeout   Duration `toml:"stop_timeout" live:"" doc:"How long a graceful stop waits for requests in flight before closing the rest."`
}

// Duration is a time.Duration written as a Go duration string ("120s", "1m30s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like \"120s\": %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Default returns the embedded defaults (the README's listener table, docs/config.md).
func Default() Config {
	return Config{
		WS: WS{
			Listen:           "0.0.0.0:2828",
			InitMessage:      true,
			MaxMessageSize:   64 << 10,
			MaxSendBuffer:    1 << 20,
			HandshakeTimeout: Duration{10 * time.Second},
			MaxHeaderSize:    16 << 10,
			Transport:        "auto",
		},
		Heartbeat: Heartbeat{
			Timeout:            Duration{120 * time.Second},
			ServerPingInterval: Duration{50 * time.Second},
		},
		API:      API{Listen: "127.0.0.1:2829", MaxBodySize: 4 << 20, IdleTimeout: Duration{60 * time.Second}},
		Text:     Text{Listen: "127.0.0.1:5678", MaxLineSize: 1 << 20, IdleTimeout: Duration{300 * time.Second}},
		GWCompat: GWCompat{Register: "127.0.0.1:1236", Inner: "127.0.0.1:2900", LanIP: "127.0.0.1"},
		HTTP:     HTTP{Listen: "0.0.0.0:8000", MaxBodySize: 8 << 20, MaxUploadSize: 2 << 20, ReadTimeout: Duration{60 * time.Second}},
		PHP: PHP{App: ".", Public: "public", Binary: "php", MaxJobs: 10000, MaxMemory: 128 << 20, Preload: true,
			MemoryLimit: "256M", MaxResponse: 64 << 20, Channel: "auto",
			RequestTimeout: Duration{60 * time.Second}, QueueTimeout: Duration{10 * time.Second}, BootTimeout: Duration{30 * time.Second}},
		Log: Log{Level: "info", Format: "text"},
		Events: Events{Sink: "none", WebhookBatch: 100, WebhookWait: Duration{50 * time.Millisecond},
			WebhookTimeout: Duration{5 * time.Second}, WebhookRetries: 5, OfflineDelay: Duration{3 * time.Second}},
		Auth:    Auth{Timeout: Duration{10 * time.Second}},
		Limits:  Limits{ConnectionsPerIP: 1000, ConnectRatePerIP: 200, MessageRate: 200, APIRate: 20000},
		Process: Process{StopTimeout: Duration{30 * time.Second}},
		Cluster: Cluster{Engine: "memory", Redis: "redis://127.0.0.1:6379/0", NATS: "nats://127.0.0.1:4222", Prefix: "thinkgate",
			Expiry: Duration{30 * time.Second}, Timeout: Duration{2 * time.Second}, Routing: "interest"},
		History: History{Size: 100, TTL: Duration{5 * time.Minute}},
		Inbox:   Inbox{Size: 100, TTL: Duration{24 * time.Hour}},
		Pusher:  Pusher{ActivityTimeout: Duration{60 * time.Second}, CacheTTL: Duration{30 * time.Minute}, MaxPresenceMembers: 100},
	}
}

// pusherApps checks the [[pusher.apps]] tables: credentials present, ids,
// keys and prefixes distinct.
func pusherApps(apps []PusherApp) error {
	ids, keys, prefixes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, a := range apps {
		switch {
		case a.ID == "" || a.Key == "" || a.Secret == "":
			return fmt.Errorf("app %d: id, key and secret are required", i+1)
		case strings.ContainsAny(a.ID+a.Key, "/?# "):
			return fmt.Errorf("app %d: id and key may not hold /, ?, # or spaces", i+1)
		case ids[a.ID] || keys[a.Key]:
			return fmt.Errorf("app %d: id %q or key %q used twice", i+1, a.ID, a.Key)
		case a.Prefix != "" && (!strings.HasSuffix(a.Prefix, ":") || strings.ContainsAny(a.Prefix, " #")):
			return fmt.Errorf("app %d: prefix %q must end with ':' (channel names have none) and hold no spaces or #", i+1, a.Prefix)
		case prefixes[a.Prefix]:
			return fmt.Errorf("app %d: prefix %q used twice (apps sharing a prefix would share channels)", i+1, a.Prefix)
		case a.MaxConnections < 0 || a.ClientEventRate < -1:
			return fmt.Errorf("app %d: max_connections must be >= 0 and client_event_rate >= -1", i+1)
		}
		ids[a.ID], keys[a.Key], prefixes[a.Prefix] = true, true, true
	}
	return nil
}

// DefaultFile is the config file read when present and no -c is given.
const DefaultFile = "thinkgate.toml"

// EnvPrefix starts every environment override: THINKGATE_<SECTION>_<KEY>.
const EnvPrefix = "THINKGATE_"

// Load builds the effective config: defaults, then the file (if path is not
// empty), then environment variables, then validation. explicit says whether
// the user named the file; a missing default file is not an error.
func Load(path string, explicit bool, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, &cfg)
		switch {
		case err != nil && !explicit && errors.Is(err, os.ErrNotExist):
		case err != nil:
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		default:
			if und := md.Undecoded(); len(und) > 0 {
				return cfg, fmt.Errorf("config file %s: %s: unknown key", path, und[0])
			}
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// LoadLocation reads only what finds a running instance, process.pid_file,
// process.control_socket and php.app, from the file and the environment,
// whatever else the file holds: stop, reload, status and connections use
// it when Load fails, so an instance can be stopped or reloaded after a
// typo in its config file (a reload then reports the typo itself). A file
// that is not TOML at all leaves the defaults.
func LoadLocation(path string, environ []string) Config {
	cfg := Default()
	var loc struct {
		PHP struct {
			App *string `toml:"app"`
		} `toml:"php"`
		Process struct {
			PidFile       *string `toml:"pid_file"`
			ControlSocket *string `toml:"control_socket"`
		} `toml:"process"`
	}
	if path != "" {
		if _, err := toml.DecodeFile(path, &loc); err == nil {
			if loc.PHP.App != nil {
				cfg.PHP.App = *loc.PHP.App
			}
			if loc.Process.PidFile != nil {
				cfg.Process.PidFile = *loc.Process.PidFile
			}
			if loc.Process.ControlSocket != nil {
				cfg.Process.ControlSocket = *loc.Process.ControlSocket
			}
		}
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case EnvPrefix + "PHP_APP":
			cfg.PHP.App = v
		case EnvPrefix + "PROCESS_PID_FILE":
			cfg.Process.PidFile = v
		case EnvPrefix + "PROCESS_CONTROL_SOCKET":
			cfg.Process.ControlSocket = v
		}
	}
	return cfg
}

// Field is one configuration key, for printing and documentation.
type Field struct {
	Key  string // "section.key"
	Env  string // THINKGATE_SECTION_KEY
	Doc  string
	Live bool // reload applies a change to this key; others need a restart
	// Secret is "" for an ordinary key, "key" for a secret (printed masked),
	// "url" for a URL whose password is masked.
	Secret string
	Value  reflect.Value
}

// Fields lists every key of cfg in declaration order; sections come first as
// entries with an empty Value.
func Fields(cfg *Config) []Field {
	var out []Field
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		sec := sf.Tag.Get("toml")
		out = append(out, Field{Key: sec, Doc: sf.Tag.Get("doc")})
		sv := v.Field(i)
		for j := range sv.NumField() {
			kf := sv.Type().Field(j)
			key := kf.Tag.Get("toml")
			secret, isSecret := kf.Tag.Lookup("secret")
			if isSecret && secret == "" {
				secret = "key"
			}
			out = append(out, Field{
				Key:    sec + "." + key,
				Env:    EnvPrefix + strings.ToUpper(sec+"_"+key),
				Doc:    kf.Tag.Get("doc"),
				Live:   hasTag(kf, "live"),
				Secret: secret,
				Value:  sv.Field(j),
			})
		}
	}
	return out
}

func hasTag(f reflect.StructField, name string) bool {
	_, ok := f.Tag.Lookup(name)
	return ok
}

// Diff compares two configurations and returns the keys whose values differ,
// split into those a reload applies (live) and those that need a restart.
func Diff(old, cur *Config) (live, restart []string) {
	a, b := Fields(old), Fields(cur)
	for i, f := range a {
		if !f.Value.IsValid() || reflect.DeepEqual(f.Value.Interface(), b[i].Value.Interface()) {
			continue
		}
		if f.Live {
			live = append(live, f.Key)
		} else {
			restart = append(restart, f.Key)
		}
	}
	return live, restart
}

// ApplyLive copies the value of every live key of src into dst, leaving
// the keys that need a restart as they are.
func ApplyLive(dst, src *Config) {
	a, b := Fields(dst), Fields(src)
	for i, f := range a {
		if f.Live && f.Value.IsValid() {
			f.Value.Set(b[i].Value)
		}
	}
}

// envAliases are older names of environment overrides, still accepted.
var envAliases = map[string]string{"THINKGATE_TP_PRELOAD": "THINKGATE_PHP_PRELOAD"}

func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	for alias, name := range envAliases {
		if v, ok := env[alias]; ok {
			if _, set := env[name]; !set {
				env[name] = v
			}
			delete(env, alias)
		}
	}
	if len(env) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, f := range Fields(cfg) {
		if !f.Value.IsValid() {
			continue
		}
		known[f.Env] = true
		s, ok := env[f.Env]
		if !ok {
			continue
		}
		if err := setFromString(f.Value, s); err != nil {
			return fmt.Errorf("%s (%s): %w", f.Key, f.Env, err)
		}
	}
	for k := range env {
		if !known[k] {
			return fmt.Errorf("%s: unknown environment override (see `thinkgate config` for the names)", k)
		}
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not true or false: %q", s)
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", s)
		}
		v.SetInt(int64(n))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validate checks every key and returns the first problem as "key: reason".
func (c *Config) Validate() error {
	type check struct {
		key string
		err error
	}
	checks := []check{
		{"ws.listen", checkListen(c.WS.Listen, "", false)},
		{"ws.max_message_size", positive(c.WS.MaxMessageSize)},
		{"ws.max_send_buffer", positive(c.WS.MaxSendBuffer)},
		{"ws.tls_cert", bothOrNeither(c.WS.TLSCert, c.WS.TLSKey, "ws.tls_key")},
		{"ws.handshake_timeout", positiveDur(c.WS.HandshakeTimeout)},
		{"ws.max_header_size", positive(c.WS.MaxHeaderSize)},
		{"ws.transport", oneOf(c.WS.Transport, "auto", "epoll", "portable")},
		{"ws.max_connections", nonNegative(c.WS.MaxConnections)},
		{"heartbeat.timeout", nonNegativeDur(c.Heartbeat.Timeout)},
		{"heartbeat.server_ping_interval", positiveDur(c.Heartbeat.ServerPingInterval)},
		{"api.listen", checkListen(c.API.Listen, c.API.Key, true)},
		{"api.max_body_size", positive(c.API.MaxBodySize)},
		{"text.listen", checkListen(c.Text.Listen, c.Text.Key, true)},
		{"text.max_line_size", positive(c.Text.MaxLineSize)},
		{"gwcompat.register", checkListen(c.GWCompat.Register, c.GWCompat.Secret, true)},
		{"gwcompat.inner", checkListen(c.GWCompat.Inner, c.GWCompat.Secret, true)},
		{"gwcompat.lan_ip", checkIPv4(c.GWCompat.LanIP)},
		{"http.listen", checkListen(c.HTTP.Listen, "", false)},
		{"http.max_body_size", positive(c.HTTP.MaxBodySize)},
		{"http.max_upload_size", positive(c.HTTP.MaxUploadSize)},
		{"http.read_timeout", positiveDur(c.HTTP.ReadTimeout)},
		{"http.max_connections", nonNegative(c.HTTP.MaxConnections)},
		{"api.max_connections", nonNegative(c.API.MaxConnections)},
		{"api.idle_timeout", positiveDur(c.API.IdleTimeout)},
		{"text.max_connections", nonNegative(c.Text.MaxConnections)},
		{"text.idle_timeout", positiveDur(c.Text.IdleTimeout)},
		{"gwcompat.max_connections", nonNegative(c.GWCompat.MaxConnections)},
		{"limits.connections_per_ip", nonNegative(c.Limits.ConnectionsPerIP)},
		{"limits.connect_rate_per_ip", nonNegative(c.Limits.ConnectRatePerIP)},
		{"limits.message_rate", nonNegative(c.Limits.MessageRate)},
		{"limits.api_rate", nonNegative(c.Limits.APIRate)},
		{"http.tls_cert", bothOrNeither(c.HTTP.TLSCert, c.HTTP.TLSKey, "http.tls_key")},
		{"php.workers", between(c.PHP.Workers, 0, MaxWorkers)},
		{"php.max_jobs", nonNegative(c.PHP.MaxJobs)},
		{"php.max_memory", nonNegative(c.PHP.MaxMemory)},
		{"php.memory_limit", requires(memoryLimit.MatchString(c.PHP.MemoryLimit), "a PHP size: -1, or a number with an optional K, M or G (256M)")},
		{"php.max_response", between(c.PHP.MaxResponse, 1, 1<<31-1)},
		{"php.channel", oneOf(c.PHP.Channel, "auto", "pipes", "tcp")},
		{"php.request_timeout", positiveDur(c.PHP.RequestTimeout)},
		{"php.queue_timeout", positiveDur(c.PHP.QueueTimeout)},
		{"php.boot_timeout", positiveDur(c.PHP.BootTimeout)},
		{"log.level", oneOf(c.Log.Level, "debug", "info", "warn", "error")},
		{"log.format", oneOf(c.Log.Format, "text", "json")},
		{"process.stop_timeout", positiveDur(c.Process.StopTimeout)},
		{"auth.timeout", positiveDur(c.Auth.Timeout)},
		{"events.sink", oneOf(c.Events.Sink, "none", "webhook", "php")},
		{"events.webhook_url", requires(c.Events.Sink != "webhook" || strings.HasPrefix(c.Events.WebhookURL, "http://") || strings.HasPrefix(c.Events.WebhookURL, "https://"), "an http:// or https:// URL with events.sink = \"webhook\"")},
		{"events.webhook_secret", requires(c.Events.Sink != "webhook" || c.Events.WebhookSecret != "", "a value with events.sink = \"webhook\"")},
		{"events.webhook_batch", positive(c.Events.WebhookBatch)},
		{"events.webhook_wait", positiveDur(c.Events.WebhookWait)},
		{"events.webhook_timeout", positiveDur(c.Events.WebhookTimeout)},
		{"events.webhook_retries", nonNegative(c.Events.WebhookRetries)},
		{"events.offline_delay", nonNegativeDur(c.Events.OfflineDelay)},
		{"auth.required", requires(!c.Auth.Required || c.Auth.Secret != "", "auth.secret")},
		{"cluster.engine", oneOf(c.Cluster.Engine, "memory", "redis", "nats")},
		{"cluster.prefix", requires(validPrefix(c.Cluster.Prefix), "letters, digits, _ or - (it is a NATS subject token)")},
		{"cluster.expiry", requires(c.Cluster.Expiry.Duration >= 3*time.Second, "at least 3s")},
		{"cluster.timeout", positiveDur(c.Cluster.Timeout)},
		{"cluster.routing", oneOf(c.Cluster.Routing, "interest", "broadcast")},
		{"history.size", requires(c.History.Size > 0 && c.History.Size <= 100_000, "1 to 100000")},
		{"history.ttl", positiveDur(c.History.TTL)},
		{"inbox.size", requires(c.Inbox.Size > 0 && c.Inbox.Size <= 100_000, "1 to 100000")},
		{"inbox.ttl", positiveDur(c.Inbox.TTL)},
		{"pusher.activity_timeout", requires(c.Pusher.ActivityTimeout.Duration >= time.Second, "at least 1s")},
		{"pusher.cache_ttl", positiveDur(c.Pusher.CacheTTL)},
		{"pusher.max_presence_members", positive(c.Pusher.MaxPresenceMembers)},
		{"pusher.apps", pusherApps(c.Pusher.Apps)},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return fmt.Errorf("%s: %w", ch.key, ch.err)
		}
	}
	return nil
}

func checkListen(addr, key string, backend bool) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not a host:port address: %q", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port in %q", addr)
	}
	if backend && key == "" && !IsLoopback(host) {
		return fmt.Errorf("%q is not a loopback address and no key is set; set the key of this section or bind to 127.0.0.1", addr)
	}
	return nil
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkIPv4(s string) error {
	ip := net.ParseIP(s)
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("not an IPv4 address: %q", s)
	}
	return nil
}

// memoryLimit is the form of PHP's memory_limit this config accepts.
var memoryLimit = regexp.MustCompile(`^(-1|[1-9][0-9]*[KkMmGg]?)$`)

func positive(n int) error {
	if n <= 0 {
		return fmt.Errorf("must be greater than 0, is %d", n)
	}
	return nil
}

func bothOrNeither(cert, key, keyName string) error {
	if (cert == "") != (key == "") {
		return fmt.Errorf("set it together with %s, or neither", keyName)
	}
	return nil
}

// MaxWorkers is the most PHP worker processes one node runs.
const MaxWorkers = 512

func between(n, lo, hi int) error {
	if n < lo || n > hi {
		return fmt.Errorf("must be between %d and %d, is %d", lo, hi, n)
	}
	return nil
}

func requires(ok bool, key string) error {
	if !ok {
		return fmt.Errorf("needs %s", key)
	}
	return nil
}

func nonNegative(n int) error {
	if n < 0 {
		return fmt.Errorf("must not be negative, is %d", n)
	}
	return nil
}

func positiveDur(d Duration) error {
	if d.Duration <= 0 {
		return fmt.Errorf("must be greater than 0, is %s", d.Duration)
	}
	return nil
}

func nonNegativeDur(d Duration) error {
	if d.Duration < 0 {
		return fmt.Errorf("must not be negative, is %s", d.Duration)
	}
	return nil
}

func oneOf(s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
}

// validPrefix reports whether p is a non-empty run of letters, digits, _ and -.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, r := range p {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
