// Package control is the local control channel of a running thinkgate: an
// HTTP server on a unix socket only its owner can open, which the stop,
// reload, status and connections commands talk to, and the pid file that
// says which process owns it.
//
// Endpoints (all JSON):
//
//	GET  /status                 the node's status document
//	POST /reload                 re-read the config and roll the PHP workers; a ReloadReport
//	POST /stop?graceful=1        stop (graceful waits for requests in flight); {"pid": N}
//	GET  /connections?limit=N    one JSON object per line, one per client
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target is what the control server acts on: the running node.
type Target interface {
	// Status is the status document.
	Status() any
	// Reload re-reads the configuration and applies it.
	Reload() ReloadReport
	// Stop starts stopping the node and returns at once.
	Stop(graceful bool)
	// Connections writes up to limit clients (0: all) to fn, oldest first.
	Connections(limit int, fn func(Connection) error) error
}

// ReloadReport says what a reload did.
type ReloadReport struct {
	Applied      []string `json:"applied"`        // config keys whose new values are in force
	NeedsRestart []string `json:"needs_restart"`  // changed keys that only a restart applies
	Reloaded     []string `json:"reloaded"`       // what was renewed: "php workers", "ws.tls_cert", "log file"...
	Errors       []string `json:"errors"`         // what failed; the old state stays in force for it
	Kept         []string `json:"kept,omitempty"` // changes held back, and why (a key a listener still needs)
}

// Connection is one WebSocket client in the connections listing.
type Connection struct {
	ClientID   string   `json:"client_id"`
	UID        string   `json:"uid"`
	Groups     []string `json:"groups"`
	Remote     string   `json:"remote"`
	AgeSeconds int64    `json:"age_seconds"`
}

// Listen opens the control socket at path, owner-only (0600). A socket file
// left behind by a process that is gone is replaced; one that answers is in
// use and gives an error.
// ErrInUse is a control socket another running thinkgate answers on.
var ErrInUse = errors.New("another thinkgate answers on it")

func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, ErrInUse)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Handler serves the control endpoints for t.
func Handler(t Target) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, t.Status())
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, t.Reload())
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int{"pid": os.Getpid()})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		t.Stop(r.URL.Query().Get("graceful") == "1")
	})
	mux.HandleFunc("GET /connections", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		t.Connections(limit, func(c Connection) error { return enc.Encode(c) })
	})
	return mux
}

// Serve answers control requests on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, t Target) error {
	srv := &http.Server{Handler: Handler(t), ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// ErrNotRunning means nothing answers on the control socket.
var ErrNotRunning = errors.New("not running")

// Client talks to a running thinkgate over its control socket.
type Client struct {
	Path string
	hc   *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{Path: path, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// Do sends one request and decodes a JSON answer into out (when not nil).
// Nothing listening gives ErrNotRunning.
func (c *Client) Do(ctx context.Context, method, path string, out any) error {
	body, err := c.open(ctx, method, path)
	if err != nil {
		return err
	}
	defer body.Close()
	if out == nil {
		io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("control socket %s: reading the answer: %w", c.Path, err)
	}
	return nil
}

// Stream sends a GET and returns the body to read.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	return c.open(ctx, http.MethodGet, path)
}

func (c *Client) open(ctx context.Context, method, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://thinkgate"+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("control socket %s: %w", c.Path, err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		return nil, fmt.Errorf("control socket %s: %s: %s", c.Path, res.Status, strings.TrimSpace(string(b)))
	}
	return res.Body, nil
}
