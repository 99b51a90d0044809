package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"thinkgate/internal/accept"
	"thinkgate/internal/hub"
	"thinkgate/internal/lines"
)

// TextOptions configure the Text port.
type TextOptions struct {
	Key         string        // when set, the first line must be {"method":"auth","key":...}
	MaxLineSize int           // a longer line closes the connection
	IdleTimeout time.Duration // a connection silent this long is closed; 0: never
}

// Text serves the newline-delimited JSON push port (Workerman Text framing:
// a request is the bytes up to "\n", trailing "\r" and "\n" stripped; every
// reply is one line). Each request line gets exactly one reply line:
//
//	{"method": "sendToUid", "uid": "u1", "data": ...}  -> the JSON result, e.g. 2
//	{"uid": "u1", ...} (no method, the push.php shorthand)
//	                                                   -> ok if a client got the line's
//	                                                      "data" (or, without data, the whole line), else fail
//	anything malformed                                 -> {"error": {"code", "message"}}
type Text struct {
	hub    hub.Doer
	limits atomic.Pointer[TextOptions]
	log    *slog.Logger

	conns accept.Tracker

	Accepted atomic.Uint64 // connections accepted
	Requests atomic.Uint64 // request lines answered
}

// NewText returns a Text port server.
func NewText(h hub.Doer, opts TextOptions, log *slog.Logger) *Text {
	t := &Text{hub: h, log: log}
	t.SetLimits(opts)
	return t
}

// SetLimits replaces the key and the line limit (on reload): connections
// authenticated before keep going; each line uses the limit in force.
func (t *Text) SetLimits(opts TextOptions) { t.limits.Store(&opts) }

// Serve accepts connections until Shutdown.
func (t *Text) Serve(ln net.Listener) error {
	t.conns.Listen(ln)
	return accept.Loop(ln, t.log, func(nc net.Conn) {
		t.Accepted.Add(1)
		if !t.conns.Add(nc) {
			nc.Close()
			return
		}
		go func() {
			defer t.conns.Done(nc)
			defer nc.Close()
			t.serveConn(nc)
		}()
	})
}

// Active returns the number of open Text port connections.
func (t *Text) Active() int { return t.conns.Len() }

// Shutdown stops accepting, lets every line being handled finish and be
// answered, then closes the connections.
func (t *Text) Shutdown(ctx context.Context) error {
	if err := t.conns.Shutdown(ctx, accept.CloseRead); err != nil {
		return fmt.Errorf("text port shutdown: %w", err)
	}
	return nil
}

func (t *Text) serveConn(nc net.Conn) {
	r := bufio.NewReaderSize(nc, 4096)
	w := bufio.NewWriter(nc)
	authed := t.limits.Load().Key == ""
	for {
		lim := t.limits.Load()
		maxLine := lim.MaxLineSize
		if lim.IdleTimeout > 0 && r.Buffered() == 0 {
			nc.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
		}
		line, err := lines.Read(r, maxLine)
		if errors.Is(err, lines.ErrTooLong) {
			t.log.Warn("text port: line too long; closing", "remote", nc.RemoteAddr(), "limit", maxLine)
			writeLine(w, errorLine(errorf(413, CodeTooLarge, "line over %d bytes (text.max_line_size); closing", maxLine)))
			w.Flush()
			return
		}
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var out []byte
		var sessions map[string]hub.Session
		out, sessions, authed = t.handle(line, authed)
		t.Requests.Add(1)
		if sessions != nil { // can be large: written as encoded
			writeSessions(w, sessions)
			w.WriteByte('\n')
		} else {
			writeLine(w, out)
		}
		if r.Buffered() == 0 { // answer pipelined lines in one write
			if w.Flush() != nil {
				return
			}
		}
	}
}

// handle answers one request line; it returns the reply (or the sessions
// that are the reply, to be written as they are encoded) and the new auth
// state.
func (t *Text) handle(line []byte, authed bool) ([]byte, map[string]hub.Session, bool) {
	var head struct {
		Method *string         `json:"method"`
		UID    json.RawMessage `json:"uid"`
		Data   json.RawMessage `json:"data"`
		Key    string          `json:"key"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return errorLine(errorf(400, CodeInvalidJSON, "each line must be one JSON object: %v", err)), nil, authed
	}
	if head.Method != nil && *head.Method == "auth" {
		if subtle.ConstantTimeCompare([]byte(head.Key), []byte(t.limits.Load().Key)) == 1 {
			return []byte("true"), nil, true
		}
		return errorLine(errorf(401, CodeUnauthorized, "wrong key")), nil, authed
	}
	if !authed && t.limits.Load().Key == "" { // a reload removed the key
		authed = true
	}
	if !authed {
		return errorLine(errorf(401, CodeUnauthorized, `send {"method":"auth","key":"<text.key>"} first`)), nil, false
	}
	if head.Method == nil {
		return t.shorthand(line, head.UID, head.Data), nil, true
	}
	res, aerr := Call(t.hub, *head.Method, line)
	if aerr != nil {
		return errorLine(aerr), nil, true
	}
	if sessions, ok := res.(map[string]hub.Session); ok {
		return nil, sessions, true
	}
	b, err := json.Marshal(res)
	if err != nil {
		return errorLine(errorf(500, CodeInternal, "result is not JSON")), nil, true
	}
	return b, nil, true
}

// shorthand is the seed push.php contract: {"uid": ..., ...} sends the line's
// data, or the whole line, to that uid and answers ok or fail.
func (t *Text) shorthand(line []byte, uid, data json.RawMessage) []byte {
	uids, err := stringList(uid)
	if err != nil || len(uids) == 0 {
		return errorLine(errorf(statusInvalid, CodeInvalidParams, `a line needs "method", or "uid" for the push shorthand`))
	}
	m := hub.NewText(line)
	if len(data) > 0 {
		if m, err = message(data, false); err != nil {
			return errorLine(paramErr("data", err))
		}
	}
	n, aerr := run(t.hub, &hub.Command{Op: hub.OpSendToUid, UIDs: uids, Message: m})
	if aerr != nil {
		return errorLine(aerr)
	}
	if n.(int) > 0 {
		return []byte("ok")
	}
	return []byte("fail")
}

func errorLine(e *Error) []byte {
	b, _ := json.Marshal(map[string]any{"error": e})
	return b
}

func writeLine(w *bufio.Writer, b []byte) {
	w.Write(b)
	w.WriteByte('\n')
}
