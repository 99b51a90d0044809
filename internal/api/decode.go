// Package api holds the backend-facing command sources: the HTTP JSON API and
// the newline-delimited Text port. Both decode requests into hub.Commands
// with the same rules (this file) and run them on the hub.
package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"thinkgate/internal/hub"
	"thinkgate/internal/phpser"
)

// Error is an API error with a stable code, sent as {"error": {...}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The stable error codes.
const (
	CodeInvalidJSON   = "invalid_json"
	CodeInvalidParams = "invalid_params"
	CodeUnknownMethod = "unknown_method"
	CodeUnauthorized  = "unauthorized"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeNotAllowed    = "method_not_allowed"
	CodeNotFound      = "not_found"
	CodeInternal      = "internal"
	CodeShuttingDown  = "shutting_down"
	CodeUnavailable   = "cluster_unavailable"
	statusInvalid     = 422
)

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), status: status}
}

// params are the named parameters every operation may take.
type params struct {
	ClientID json.RawMessage `json:"client_id"`
	Clients  json.RawMessage `json:"client_ids"`
	UID      json.RawMessage `json:"uid"`
	Group    json.RawMessage `json:"group"`
	Exclude  json.RawMessage `json:"exclude"`
	Data     json.RawMessage `json:"data"`
	Binary   bool            `json:"binary"`
	Session  json.RawMessage `json:"session"`
	Store    bool            `json:"store"`
}

// decodeCommand builds the Command for method from a JSON object of params.
func decodeCommand(method string, raw []byte) (*hub.Command, *Error) {
	op, ok := hub.ParseOp(method)
	if !ok || !op.Public() {
		return nil, errorf(404, CodeUnknownMethod, "unknown method %q", method)
	}
	var p params
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, errorf(400, CodeInvalidJSON, "params must be a JSON object: %v", err)
		}
	}
	cmd := &hub.Command{Op: op, Store: p.Store}
	var err error
	if cmd.ClientID, err = oneString(p.ClientID); err != nil {
		return nil, paramErr("client_id", err)
	}
	if cmd.ClientIDs, err = stringList(p.Clients); err != nil {
		return nil, paramErr("client_ids", err)
	}
	if cmd.UIDs, err = stringList(p.UID); err != nil {
		return nil, paramErr("uid", err)
	}
	if cmd.Groups, err = stringList(p.Group); err != nil {
		return nil, paramErr("group", err)
	}
	if cmd.Exclude, err = stringList(p.Exclude); err != nil {
		return nil, paramErr("exclude", err)
	}
	if cmd.Message, err = message(p.Data, p.Binary); err != nil {
		return nil, paramErr("data", err)
	}
	if len(p.Session) > 0 && !isNull(p.Session) {
		v, err := phpser.FromJSON(p.Session)
		if err != nil || v.Kind != phpser.Array || bytes.TrimSpace(p.Session)[0] != '{' {
			return nil, paramErr("session", errors.New("must be a JSON object"))
		}
		cmd.Session = phpser.Serialize(v)
	}
	return cmd, nil
}

func paramErr(name string, err error) *Error {
	return errorf(statusInvalid, CodeInvalidParams, "%s: %v", name, err)
}

// run executes cmd on h, mapping hub errors to API errors.
func run(h hub.Doer, cmd *hub.Command) (any, *Error) {
	res, err := h.Do(cmd)
	if errors.Is(err, hub.ErrInvalid) {
		return nil, errorf(statusInvalid, CodeInvalidParams, "%v", err)
	}
	if errors.Is(err, hub.ErrUnavailable) {
		return nil, errorf(503, CodeUnavailable, "%v", err)
	}
	if err != nil {
		return nil, errorf(500, CodeInternal, "%v", err)
	}
	return res, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// scalar turns a JSON string or number into its string form; PHP backends
// send numeric uids and groups as numbers.
func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("missing")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("want a string or a number, got %s", abbrev(raw))
}

func oneString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	return scalar(raw)
}

// stringList accepts one string or number, or a list of them.
func stringList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, err
		}
		out := make([]string, len(items))
		for i, it := range items {
			s, err := scalar(it)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out[i] = s
		}
		return out, nil
	}
	s, err := scalar(raw)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// message turns the data param into a Message: a JSON string is sent as is,
// any other JSON value as its compact JSON text; binary takes base64.
func message(raw json.RawMessage, binary bool) (*hub.Message, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if binary {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("binary data must be base64: %w", err)
			}
			return &hub.Message{Binary: true, Data: b}, nil
		}
		return hub.NewText([]byte(s)), nil
	}
	if binary {
		return nil, errors.New("binary data must be a base64 string")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return hub.NewText(buf.Bytes()), nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
