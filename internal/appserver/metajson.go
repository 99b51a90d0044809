package appserver

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The frame metas between Go and PHP are JSON. encoding/json's reflection
// cost a tenth of the Go side's CPU per request (decoding the response head
// alone 8 %), so the two metas of every request are handled here by hand:
// the request meta is appended directly, and the response head is read by a
// scanner for the shape PHP's worker writes, falling back to encoding/json
// for anything else (escapes, other keys), so the result is always what
// encoding/json would give.

// head is a response's status and headers, in PHP's order.
type head struct {
	status  int
	headers [][2]string // name, value; repeated names kept
}

// parseHead reads the meta of a RESPONSE or RESP_HEAD frame:
// {"status":200,"headers":{"Name":["v1","v2"],...},"mem":123}.
func parseHead(meta []byte) head {
	if h, ok := scanHead(meta); ok {
		return h
	}
	var m struct {
		Status  int                 `json:"status"`
		Headers map[string][]string `json:"headers"`
	}
	json.Unmarshal(meta, &m) // what could be read is used, as before
	h := head{status: m.Status}
	for name, values := range m.Headers {
		for _, v := range values {
			h.headers = append(h.headers, [2]string{name, v})
		}
	}
	return h
}

// scanHead is parseHead's fast path: false for anything it does not know
// for certain (a backslash escape, another key, a fraction, invalid UTF-8),
// which then goes through encoding/json.
func scanHead(b []byte) (head, bool) {
	var h head
	s := scanner{b: b}
	var seen [3]bool // status, mem, headers: a repeated key is left to encoding/json
	if !s.byte('{') {
		return h, false
	}
	if s.byte('}') {
		return h, s.end()
	}
	for {
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return h, false
		}
		var k int
		switch key {
		case "status":
			k = 0
			h.status, ok = s.uint()
		case "mem":
			k = 1
			_, ok = s.uint()
		case "headers":
			k = 2
			ok = !seen[k] && s.headers(&h)
		default:
			return h, false
		}
		if !ok || seen[k] {
			return h, false
		}
		seen[k] = true
		if s.byte('}') {
			return h, s.end()
		}
		if !s.byte(',') {
			return h, false
		}
	}
}

// scanner walks compact JSON, the way PHP's json_encode writes it.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() bool { return s.i == len(s.b) }

// str reads a string with no escapes and valid UTF-8.
func (s *scanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// uint reads a small non-negative integer.
func (s *scanner) uint() (int, bool) {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == start || s.i-start > 15 || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	n, err := strconv.Atoi(string(s.b[start:s.i]))
	return n, err == nil
}

// headers reads {"Name":["v",...],...} into h. encoding/json keeps the last
// of repeated names in a map; a repeated name is left to it.
func (s *scanner) headers(h *head) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	first := len(h.headers)
	for {
		name, ok := s.str()
		if !ok || !s.byte(':') || !s.byte('[') {
			return false
		}
		for _, seen := range h.headers[first:] {
			if seen[0] == name {
				return false
			}
		}
		if !s.byte(']') {
			for {
				v, ok := s.str()
				if !ok {
					return false
				}
				h.headers = append(h.headers, [2]string{name, v})
				if s.byte(']') {
					break
				}
				if !s.byte(',') {
					return false
				}
			}
		}
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// appendRequestMeta appends m as JSON, as json.Marshal would encode it
// (object keys in any order).
func appendRequestMeta(b []byte, m *requestMeta) []byte {
	b = append(b, `{"method":`...)
	b = appendString(b, m.Method)
	b = append(b, `,"uri":`...)
	b = appendString(b, m.URI)
	b = append(b, `,"path":`...)
	b = appendString(b, m.Path)
	b = append(b, `,"query":`...)
	b = appendString(b, m.Query)
	b = append(b, `,"protocol":`...)
	b = appendString(b, m.Protocol)
	b = append(b, `,"scheme":`...)
	b = appendString(b, m.Scheme)
	b = append(b, `,"remote_addr":`...)
	b = appendString(b, m.RemoteAddr)
	b = append(b, `,"remote_port":`...)
	b = strconv.AppendInt(b, int64(m.RemotePort), 10)
	b = append(b, `,"server_name":`...)
	b = appendString(b, m.ServerName)
	b = append(b, `,"server_port":`...)
	b = strconv.AppendInt(b, int64(m.ServerPort), 10)
	b = append(b, `,"document_root":`...)
	b = appendString(b, m.DocumentRoot)
	b = append(b, `,"headers":`...)
	if m.Headers == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		sep := false
		for name, values := range m.Headers {
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendString(b, name)
			b = append(b, ':')
			b = appendStrings(b, values)
		}
		b = append(b, '}')
	}
	b = append(b, `,"cookies":`...)
	if m.Cookies == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		sep := false
		for name, v := range m.Cookies {
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendString(b, name)
			b = append(b, ':')
			b = appendString(b, v)
		}
		b = append(b, '}')
	}
	if len(m.Form) > 0 {
		b = append(b, `,"form":[`...)
		for i, kv := range m.Form {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStrings(b, kv[:])
		}
		b = append(b, ']')
	}
	if len(m.Files) > 0 {
		b = append(b, `,"files":[`...)
		for i, f := range m.Files {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = appendString(b, f.Field)
			b = append(b, `,"name":`...)
			b = appendString(b, f.Name)
			b = append(b, `,"type":`...)
			b = appendString(b, f.Type)
			b = append(b, `,"tmp_name":`...)
			b = appendString(b, f.TmpName)
			b = append(b, `,"error":`...)
			b = strconv.AppendInt(b, int64(f.Error), 10)
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, f.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
