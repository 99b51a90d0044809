package api

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"thinkgate/internal/hub"
	"thinkgate/internal/ratelimit"
)

// HTTPOptions configure the HTTP API.
type HTTPOptions struct {
	Key         string                               // when set, /api/* and /status need "Authorization: Bearer <Key>"
	MaxBodySize int64                                // larger bodies get 413
	Status      func() any                           // the /status document
	Metrics     http.Handler                         // served at /metrics when set
	Observe     func(method string, d time.Duration) // told of every /api request when set
	Limited     func()                               // told of every request turned away by the rate limit, when set
	Admin       http.Handler                         // the admin page (/admin, /admin/...), served behind the key when set
}

// NewHTTP returns the HTTP API handler:
//
//	POST /api/<operation>   body: JSON object of params  -> {"result": ...}
//	POST /api/batch         body: [{"method": ..., "params": {...}}, ...] -> {"replies": [{"result": ...} | {"error": ...}]}
//	GET  /healthz           -> ok
//	GET  /status            -> the Status document
//	GET  /debug/pprof/...   -> Go's profiler (net/http/pprof)
//	GET  /metrics           -> Prometheus metrics, when configured
//
// Errors are {"error": {"code", "message"}} with a 4xx status.
func NewHTTP(h hub.Doer, opts HTTPOptions, log *slog.Logger) *HTTP {
	a := &HTTP{hub: h, opts: opts, log: log}
	a.SetLimits(opts.Key, opts.MaxBodySize)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/status", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, opts.Status())
	}))
	mux.HandleFunc("/api/", a.auth(a.serveAPI))
	if opts.Admin != nil {
		mux.Handle("/admin", a.auth(opts.Admin.ServeHTTP))
		mux.Handle("/admin/", a.auth(opts.Admin.ServeHTTP))
	}
	if opts.Metrics != nil {
		mux.HandleFunc("/metrics", a.auth(opts.Metrics.ServeHTTP))
	}
	// Go's profiler, for operators chasing CPU or memory: same auth as the API.
	mux.HandleFunc("/debug/pprof/", a.auth(pprof.Index))
	mux.HandleFunc("/debug/pprof/profile", a.auth(pprof.Profile))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no such endpoint %s; operations are POST /api/<name>", r.URL.Path))
	})
	a.mux = mux
	return a
}

// HTTP is the HTTP API handler.
type HTTP struct {
	hub    hub.Doer
	opts   HTTPOptions
	limits atomic.Pointer[limits]
	rate   atomic.Int64    // requests per second per key (limits.api_rate); 0: none
	perKey ratelimit.Keyed // a bucket per API key, or per address without one
	log    *slog.Logger
	mux    *http.ServeMux

	Requests atomic.Uint64 // requests served, for /status
}

// ServeHTTP serves one request.
func (a *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.Requests.Add(1)
	a.mux.ServeHTTP(w, r)
}

// limits are the settings a reload may change.
type limits struct {
	key     string
	maxSize int64
}

// SetRate sets the requests per second each API key (each client address
// when there is no key) may make, in bursts of twice that; 0 for no limit.
func (a *HTTP) SetRate(perSecond int) { a.rate.Store(int64(perSecond)) }

// rateLimited answers 429 when the request's key (or address) is over the
// rate; true when it did.
func (a *HTTP) rateLimited(w http.ResponseWriter, r *http.Request, key string) bool {
	rate := float64(a.rate.Load())
	if rate <= 0 {
		return false
	}
	if key == "" {
		key, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	if a.perKey.Allow(key, time.Now(), rate, 2*rate) {
		return false
	}
	if a.opts.Limited != nil {
		a.opts.Limited()
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, errorf(http.StatusTooManyRequests, CodeRateLimited, "more than %d requests per second (limits.api_rate)", int64(rate)))
	return true
}

// SetLimits replaces the key and the size limit (on reload); requests that
// arrive afterwards use them.
func (a *HTTP) SetLimits(key string, maxBodySize int64) {
	a.limits.Store(&limits{key: key, maxSize: maxBodySize})
}

func (a *HTTP) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := a.limits.Load().key
		if key == "" {
			if !a.rateLimited(w, r, "") {
				next(w, r)
			}
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		// A browser on the admin page logs in with HTTP Basic: any user
		// name, the key as the password; the page's own calls then carry it.
		_, pass, basic := r.BasicAuth()
		if subtle.ConstantTimeCompare(got, []byte("Bearer "+key)) != 1 && (!basic || subtle.ConstantTimeCompare([]byte(pass), []byte(key)) != 1) {
			if strings.HasPrefix(r.URL.Path, "/admin") {
				w.Header().Set("WWW-Authenticate", `Basic realm="thinkgate admin (password: api.key)", charset="UTF-8"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="thinkgate"`)
			}
			writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong API key (Authorization: Bearer <api.key>)"))
			return
		}
		if !a.rateLimited(w, r, key) {
			next(w, r)
		}
	}
}

func (a *HTTP) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeNotAllowed, "use POST"))
		return
	}
	maxSize := a.limits.Load().maxSize
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "body over %d bytes (api.max_body_size)", maxSize))
			return
		}
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidJSON, "reading body: %v", err))
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if a.opts.Observe != nil {
		defer func(start time.Time) { a.opts.Observe(method, time.Since(start)) }(time.Now())
	}
	if method == "batch" {
		a.batch(w, body)
		return
	}
	res, aerr := Call(a.hub, method, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if sessions, ok := res.(map[string]hub.Session); ok { // can be large: written as encoded
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 32<<10)
		bw.WriteString(`{"result":`)
		writeSessions(bw, sessions)
		bw.WriteString("}\n")
		bw.Flush()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": res})
}

// writeSessions writes a client_id -> session map as JSON, one session
// encoded at a time: 20 sessions of 4 MB never exist as one 80 MB answer,
// nor as a second copy inside json.Marshal. Keys are sorted, as
// json.Marshal sorts them.
func writeSessions(w *bufio.Writer, sessions map[string]hub.Session) error {
	ids := slices.Sorted(maps.Keys(sessions))
	w.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			w.WriteByte(',')
		}
		k, _ := json.Marshal(id)
		w.Write(k)
		w.WriteByte(':')
		v, _ := sessions[id].MarshalJSON()
		if _, err := w.Write(v); err != nil {
			return err
		}
	}
	return w.WriteByte('}')
}

// Call decodes params for method and runs it: the one path every API request takes.
func Call(h hub.Doer, method string, params []byte) (any, *Error) {
	cmd, err := decodeCommand(method, params)
	if err != nil {
		return nil, err
	}
	return run(h, cmd)
}

// batchItem is one entry of POST /api/batch.
type batchItem struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// reply is one answer in a batch.
type reply struct {
	Result any    `json:"result,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

func (a *HTTP) batch(w http.ResponseWriter, body []byte) {
	var items []batchItem
	if err := json.Unmarshal(body, &items); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeInvalidJSON, "batch body must be a JSON list of {method, params}: %v", err))
		return
	}
	replies := make([]json.RawMessage, len(items))
	for i, it := range items {
		res, aerr := Call(a.hub, it.Method, it.Params)
		if aerr != nil {
			replies[i], _ = json.Marshal(reply{Error: aerr})
			continue
		}
		// Marshal by hand so a null or false result is kept, not omitted.
		b, _ := json.Marshal(res)
		replies[i] = append(append([]byte(`{"result":`), b...), '}')
	}
	writeJSON(w, http.StatusOK, map[string]any{"replies": replies})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"result is not JSON"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.status, map[string]any{"error": e})
}
