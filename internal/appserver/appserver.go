// Package appserver is the HTTP front of the resident PHP app: static files
// from the public directory are served by Go; every other request is parsed
// (bodies and multipart uploads spooled with limits), sent to a PHP worker,
// and its answer written back, streamed chunk by chunk when PHP streams.
package appserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"thinkgate/internal/phpworker"
)

// Options configure the front.
type Options struct {
	Public         string                            // document root for static files ("" serves none)
	MaxBody        int64                             // largest request body (PHP's post_max_size); larger gets 413
	MaxUpload      int64                             // largest uploaded file (upload_max_filesize); larger gets PHP's error 1
	UploadDir      string                            // where uploads are spooled ("" = the system temp dir)
	DocumentRoot   string                            // $_SERVER['DOCUMENT_ROOT']
	DefaultHeader  string                            // Content-Type when PHP sets none
	FollowSymlinks bool                              // serve files through links that leave Public
	Observe        func(status int, d time.Duration) // told of every request PHP answered (or failed), when set
}

// Server is the HTTP handler.
type Server struct {
	pool   *phpworker.Pool
	opts   Options
	limits atomic.Pointer[sizeLimits]
	access atomic.Bool
	log    *slog.Logger
	// realPublic is Public with its own links resolved, once ("" if it
	// cannot be: then no file is served through a link).
	realPublic string
}

// sizeLimits are the limits a reload may change.
type sizeLimits struct{ body, upload int64 }

// SetLimits replaces the body and upload limits for requests that arrive
// from now on.
func (s *Server) SetLimits(maxBody, maxUpload int64) {
	s.limits.Store(&sizeLimits{body: maxBody, upload: maxUpload})
}

// SetAccessLog turns the one-line-per-request access log on or off.
func (s *Server) SetAccessLog(on bool) { s.access.Store(on) }

// New returns the front for pool.
func New(pool *phpworker.Pool, opts Options, log *slog.Logger) *Server {
	if opts.DefaultHeader == "" {
		opts.DefaultHeader = "text/html; charset=UTF-8"
	}
	s := &Server{pool: pool, opts: opts, log: log}
	if opts.Public != "" {
		s.realPublic, _ = filepath.EvalSymlinks(opts.Public)
	}
	s.SetLimits(opts.MaxBody, opts.MaxUpload)
	return s
}

// ServeHTTP serves a static file or passes the request to PHP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.access.Load() {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func(start time.Time) {
			s.log.Info("access", "remote", r.RemoteAddr, "method", r.Method, "uri", r.RequestURI, "proto", r.Proto,
				"status", sw.status, "bytes", sw.bytes, "duration", time.Since(start).Round(time.Microsecond),
				"user_agent", r.UserAgent())
		}(time.Now())
		w = sw
	}
	if len(r.TransferEncoding) > 0 {
		// Go drops Content-Length when Transfer-Encoding is present, so a
		// request that had both cannot be told apart: close after every
		// request with a transfer coding, so nothing sent after its body
		// (a smuggled request) is read as the next one (RFC 9112 6.1).
		w.Header().Set("Connection", "close")
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.serveStatic(w, r) {
		return
	}
	s.servePHP(w, r)
}

// serveStatic serves a regular file under Public; false to let PHP answer.
// PHP sources, dot-files and anything outside Public are never served.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Public == "" {
		return false
	}
	clean := path.Clean("/" + r.URL.Path)
	if clean == "/" || phpSource(clean) {
		return false
	}
	for _, seg := range strings.Split(clean, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	name := filepath.Join(s.opts.Public, filepath.FromSlash(clean))
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	// Only for a file that exists: most requests are for PHP, not files.
	if !s.opts.FollowSymlinks && !inside(s.realPublic, name) {
		return false
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.ModTime().UnixNano(), st.Size()))
	if t := staticType(st.Name()); t != "" {
		w.Header().Set("Content-Type", t)
	}
	http.ServeContent(w, r, st.Name(), st.ModTime(), f) // Range, If-None-Match, If-Modified-Since
	return true
}

// phpSource reports whether a path names a file PHP would run or its
// source, which is never served as a static file: .php and the extensions
// web servers hand to PHP too (.phtml, .phar, .php3 ...), .phps and .inc.
func phpSource(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	switch ext {
	case ".php", ".phtml", ".pht", ".phar", ".phps", ".inc":
		return true
	}
	return len(ext) == 5 && strings.HasPrefix(ext, ".php") && ext[4] >= '3' && ext[4] <= '8'
}

// inside reports whether name, with its symbolic links resolved, is still
// under realRoot (a path with no links left in it).
func inside(realRoot, name string) bool {
	if realRoot == "" {
		return false
	}
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(realRoot, real)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// requestMeta is what PHP's Thinkgate\Request is built from.
type requestMeta struct {
	Method       string              `json:"method"`
	URI          string              `json:"uri"`
	Path         string              `json:"path"`
	Query        string              `json:"query"`
	Protocol     string              `json:"protocol"`
	Scheme       string              `json:"scheme"`
	RemoteAddr   string              `json:"remote_addr"`
	RemotePort   int                 `json:"remote_port"`
	ServerName   string              `json:"server_name"`
	ServerPort   int                 `json:"server_port"`
	DocumentRoot string              `json:"document_root"`
	Headers      map[string][]string `json:"headers"`
	Cookies      map[string]string   `json:"cookies"`
	Form         [][2]string         `json:"form,omitempty"`
	Files        []upload            `json:"files,omitempty"`
}

// upload is one $_FILES entry.
type upload struct {
	Field   string `json:"field"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	TmpName string `json:"tmp_name"`
	Error   int    `json:"error"`
	Size    int64  `json:"size"`
}

// PHP's upload error codes.
const (
	uploadOK        = 0
	uploadTooLarge  = 1 // UPLOAD_ERR_INI_SIZE
	uploadNoFile    = 4 // UPLOAD_ERR_NO_FILE
	uploadCantWrite = 7 // UPLOAD_ERR_CANT_WRITE
)

func (s *Server) servePHP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Observe != nil {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		w = sw
		defer func(start time.Time) { s.opts.Observe(sw.status, time.Since(start)) }(time.Now())
	}
	meta := s.meta(r)
	var body []byte
	var spooled []string
	defer func() {
		for _, f := range spooled { // PHP never deletes them; a moved file is already gone
			os.Remove(f)
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, s.limits.Load().body)
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch {
	case ctype == "multipart/form-data" && params["boundary"] != "":
		spooled, err = s.multipart(r, params["boundary"], meta)
	default:
		body, err = io.ReadAll(r.Body)
		if err == nil && ctype == "application/x-www-form-urlencoded" {
			meta.Form = formPairs(string(body))
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	frame := &phpworker.Frame{Type: phpworker.TypeRequest, Meta: appendRequestMeta(make([]byte, 0, 512), meta), Body: body}
	started := false
	rc := http.NewResponseController(w)
	// A whole response (or error) is kept and written after the worker is
	// free: a client that reads slowly holds only its own connection.
	var whole *phpworker.Frame
	err = s.pool.Serve(r.Context(), frame, func(f *phpworker.Frame) error {
		switch f.Type {
		case phpworker.TypeResp, phpworker.TypeError:
			started = true
			whole = f
		case phpworker.TypeHead:
			started = true
			w.WriteHeader(s.writeHead(w, f.Meta))
			return writeStreamed(rc, w, f.Body)
		case phpworker.TypeChunk:
			return writeStreamed(rc, w, f.Body)
		case phpworker.TypeFile:
			started = true
			s.serveFile(w, r, f.Meta)
		}
		return nil
	})
	switch {
	case whole != nil && whole.Type == phpworker.TypeError:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusInternalServerError)
		writeWhole(rc, w, whole.Body)
	case whole != nil:
		status := s.writeHead(w, whole.Meta)
		if bodyAllowed(status) && r.Method != http.MethodHead {
			w.Header().Set("Content-Length", strconv.Itoa(len(whole.Body)))
		}
		w.WriteHeader(status)
		writeWhole(rc, w, whole.Body)
	}
	if err == nil || started {
		if err != nil {
			s.log.Warn("php request failed after its response began", "uri", r.RequestURI, "err", err)
		}
		return
	}
	var tooLarge *phpworker.TooLargeError
	switch {
	case errors.Is(err, phpworker.ErrBusy):
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Service Unavailable: all PHP workers are busy", http.StatusServiceUnavailable)
	case errors.Is(err, phpworker.ErrTimeout):
		http.Error(w, "Gateway Timeout: the PHP request took too long", http.StatusGatewayTimeout)
	case errors.Is(err, context.Canceled):
	case errors.As(err, &tooLarge):
		s.log.Error("php response over php.max_response; the worker is replaced", "uri", r.RequestURI,
			"bytes", tooLarge.Size, "php.max_response", tooLarge.Limit)
		http.Error(w, fmt.Sprintf("Bad Gateway: the PHP response (%d bytes) is larger than php.max_response (%d bytes)",
			tooLarge.Size, tooLarge.Limit), http.StatusBadGateway)
	default:
		s.log.Error("php request failed", "uri", r.RequestURI, "err", err)
		http.Error(w, "Bad Gateway: the PHP worker died during the request", http.StatusBadGateway)
	}
}

// WriteIdleTimeout is how long a client may take to accept the next piece
// (64 KiB) of a response, or one chunk of a stream, before it is cut off.
const WriteIdleTimeout = 30 * time.Second

// writeChunk is the piece of a whole response written per write deadline.
const writeChunk = 64 << 10

// writeWhole writes a response body already in memory, renewing the write
// deadline for every piece: a client that stops reading is cut off after
// WriteIdleTimeout, one that reads slowly gets the whole body.
func writeWhole(rc *http.ResponseController, w http.ResponseWriter, body []byte) {
	for len(body) > 0 {
		n := min(len(body), writeChunk)
		rc.SetWriteDeadline(time.Now().Add(WriteIdleTimeout))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
	}
}

// writeStreamed writes one piece of a streamed response (SSE, downloads)
// and flushes it, within WriteIdleTimeout; an error ends the stream (the
// worker is told the client is gone).
func writeStreamed(rc *http.ResponseController, w http.ResponseWriter, b []byte) error {
	rc.SetWriteDeadline(time.Now().Add(WriteIdleTimeout))
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return rc.Flush()
}

// bodyAllowed reports whether a response with this status has a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// writeHead copies PHP's headers and returns its status.
func (s *Server) writeHead(w http.ResponseWriter, meta []byte) int {
	hd := parseHead(meta)
	h := w.Header()
	for _, kv := range hd.headers {
		h.Add(kv[0], kv[1])
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", s.opts.DefaultHeader)
	}
	if hd.status < 100 || hd.status > 999 {
		return http.StatusOK
	}
	return hd.status
}

// serveFile answers with a file PHP named (RESP_FILE).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, metaJSON []byte) {
	var m struct {
		Path   string `json:"path"`
		Delete bool   `json:"delete"`
	}
	json.Unmarshal(metaJSON, &m)
	f, err := os.Open(m.Path)
	if err != nil {
		http.Error(w, "file not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	if m.Delete {
		defer os.Remove(m.Path)
	}
	st, _ := f.Stat()
	http.ServeContent(w, r, filepath.Base(m.Path), st.ModTime(), f)
}

func (s *Server) meta(r *http.Request) *requestMeta {
	m := &requestMeta{
		Method: r.Method, URI: r.RequestURI, Path: r.URL.Path, Query: r.URL.RawQuery, Protocol: r.Proto,
		Scheme: "http", DocumentRoot: s.opts.DocumentRoot, Headers: r.Header, Cookies: map[string]string{},
	}
	if r.TLS != nil {
		m.Scheme = "https"
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		m.RemoteAddr = host
		m.RemotePort, _ = strconv.Atoi(port)
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		m.ServerPort = local.Port
	}
	m.ServerName = r.Host
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		m.ServerName = host
	}
	if r.Host != "" { // Go moves Host out of the header map; PHP expects HTTP_HOST
		r.Header["Host"] = []string{r.Host}
	}
	for _, c := range r.Cookies() {
		if _, seen := m.Cookies[c.Name]; !seen {
			m.Cookies[c.Name] = c.Value
		}
	}
	return m
}

// formPairs splits an urlencoded body into ordered pairs, keeping names as
// PHP will nest them (a[b][]=1).
func formPairs(body string) [][2]string {
	var out [][2]string
	for _, part := range strings.Split(body, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// multipart reads fields into meta.Form and spools files; it returns the
// spooled paths, which the caller deletes after the response.
func (s *Server) multipart(r *http.Request, boundary string, meta *requestMeta) ([]string, error) {
	mr := multipart.NewReader(r.Body, boundary)
	var spooled []string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return spooled, nil
		}
		if err != nil {
			return spooled, err
		}
		field := part.FormName()
		if part.FileName() == "" && part.Header.Get("Content-Type") == "" {
			v, err := io.ReadAll(part)
			if err != nil {
				return spooled, err
			}
			meta.Form = append(meta.Form, [2]string{field, string(v)})
			continue
		}
		up := upload{Field: field, Name: part.FileName(), Type: part.Header.Get("Content-Type")}
		if up.Name == "" {
			up.Error = uploadNoFile
			io.Copy(io.Discard, part)
			meta.Files = append(meta.Files, up)
			continue
		}
		maxUpload := s.limits.Load().upload
		tmp, err := os.CreateTemp(s.opts.UploadDir, spoolPrefix)
		if err != nil {
			up.Error = uploadCantWrite
			io.Copy(io.Discard, part)
			meta.Files = append(meta.Files, up)
			continue
		}
		spooled = append(spooled, tmp.Name())
		n, err := io.Copy(tmp, io.LimitReader(part, maxUpload+1))
		tmp.Close()
		if err != nil {
			return spooled, err
		}
		if n > maxUpload {
			io.Copy(io.Discard, part)
			os.Remove(tmp.Name())
			up.Error = uploadTooLarge
			meta.Files = append(meta.Files, up)
			continue
		}
		up.TmpName, up.Size, up.Error = tmp.Name(), n, uploadOK
		meta.Files = append(meta.Files, up)
	}
}

// statusWriter remembers the status and counts the bytes written, for
// Observe and the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes streaming flushes through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Timeouts for the http.Server that serves this front.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 120 * time.Second
)
