package appserver

import (
	"encoding/json"
	"reflect"
	"testing"
)

// reference is what encoding/json makes of a response head: the status and
// the headers the client gets (a name with no values gets none).
func reference(meta []byte) (int, map[string][]string) {
	var m struct {
		Status  int                 `json:"status"`
		Headers map[string][]string `json:"headers"`
	}
	json.Unmarshal(meta, &m)
	var out map[string][]string
	for name, values := range m.Headers {
		if len(values) > 0 {
			if out == nil {
				out = map[string][]string{}
			}
			out[name] = values
		}
	}
	return m.Status, out
}

// asMap groups a head's headers by name, values in order.
func asMap(h head) map[string][]string {
	var out map[string][]string
	for _, kv := range h.headers {
		if out == nil {
			out = map[string][]string{}
		}
		out[kv[0]] = append(out[kv[0]], kv[1])
	}
	return out
}

var headSeeds = []struct {
	name, meta string
	fast       bool // the scanner reads it without encoding/json
}{
	{"php's usual", `{"status":200,"headers":{"Content-Type":["application/json; charset=utf-8"],"Set-Cookie":["a=1; path=/","b=2"]},"mem":2097152}`, true},
	{"no headers", `{"status":404,"headers":{},"mem":1}`, true},
	{"empty value list", `{"status":200,"headers":{"X":[]}}`, true},
	{"unicode", `{"status":200,"headers":{"Content-Disposition":["attachment; filename=\"r\u00e9sum\u00e9.pdf\""]}}`, false},
	{"raw utf-8", `{"status":200,"headers":{"X-Name":["résumé"]}}`, true},
	{"escaped newline", `{"status":200,"headers":{"X":["a\nb"]}}`, false},
	{"spaces", `{ "status": 201, "headers": {} }`, false},
	{"key in another case", `{"Status":201}`, false},
	{"repeated header name", `{"headers":{"X":["1"],"X":["2"]}}`, false},
	{"headers twice", `{"headers":{"X":["1"]},"headers":{"X":["2"]}}`, false},
	{"null headers", `{"status":200,"headers":null}`, false},
	{"a value that is not a list", `{"status":200,"headers":{"X":"1"}}`, false},
	{"fraction", `{"status":200.5}`, false},
	{"negative", `{"status":-1}`, false},
	{"invalid utf-8", "{\"status\":200,\"headers\":{\"X\":[\"\xff\"]}}", false},
	{"truncated", `{"status":200,"headers":{"X":["1"`, false},
	{"trailing bytes", `{"status":200}x`, false},
	{"empty", ``, false},
	{"empty object", `{}`, true},
}

// TestParseHead: the fast path reads PHP's usual metas itself, and every
// meta, read either way, gives what encoding/json gives.
func TestParseHead(t *testing.T) {
	for _, c := range headSeeds {
		t.Run(c.name, func(t *testing.T) {
			_, fast := scanHead([]byte(c.meta))
			if fast != c.fast {
				t.Errorf("fast path %v, want %v", fast, c.fast)
			}
			h := parseHead([]byte(c.meta))
			status, headers := reference([]byte(c.meta))
			if h.status != status || !reflect.DeepEqual(asMap(h), headers) {
				t.Errorf("got %d %v, encoding/json gives %d %v", h.status, asMap(h), status, headers)
			}
		})
	}
}

func FuzzParseHead(f *testing.F) {
	for _, c := range headSeeds {
		f.Add([]byte(c.meta))
	}
	f.Fuzz(func(t *testing.T, meta []byte) {
		h, ok := scanHead(meta)
		if !ok {
			return
		}
		status, headers := reference(meta)
		if !json.Valid(meta) || h.status != status || !reflect.DeepEqual(asMap(h), headers) {
			t.Fatalf("%q: fast path %d %v, encoding/json %d %v (valid %v)", meta, h.status, asMap(h), status, headers, json.Valid(meta))
		}
	})
}

// roundTrip decodes what appendRequestMeta wrote and what json.Marshal
// writes for the same meta.
func roundTrip(t *testing.T, m *requestMeta) (got, want requestMeta) {
	t.Helper()
	b := appendRequestMeta(nil, m)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%q is not JSON: %v", b, err)
	}
	ref, _ := json.Marshal(m)
	json.Unmarshal(ref, &want)
	return got, want
}

func TestAppendRequestMeta(t *testing.T) {
	for _, m := range []*requestMeta{
		{Method: "GET", URI: "/a?b=1", Path: "/a", Query: "b=1", Protocol: "HTTP/1.1", Scheme: "http", RemoteAddr: "127.0.0.1",
			RemotePort: 5555, ServerName: "localhost", ServerPort: 8000, DocumentRoot: "/srv/public",
			Headers: map[string][]string{"Host": {"localhost"}, "Accept": {"a", "b"}}, Cookies: map[string]string{"sid": "x"}},
		{Method: "POST", URI: "/\"quoted\"\\/\n\t\x01<>&\u2028", Headers: map[string][]string{"X-Bin": {"\xff\xfe ok é"}},
			Cookies: map[string]string{}, Form: [][2]string{{"a[b][]", "1"}, {"", "é"}},
			Files: []upload{{Field: "f", Name: "r\"é.pdf", Type: "application/pdf", TmpName: "/tmp/x", Error: 0, Size: 12}, {Field: "g", Error: 4}}},
		{Method: "GET", Headers: nil, Cookies: nil},
		{Method: "GET", Headers: map[string][]string{"Empty": nil, "None": {}}},
	} {
		got, want := roundTrip(t, m)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("hand-written %+v\njson.Marshal %+v", got, want)
		}
	}
}

func FuzzAppendRequestMeta(f *testing.F) {
	f.Add("GET", "/", "Host", "localhost", "sid", "x", "a[]", "1")
	f.Add("POST", "/\"\\\n\x00", "X-\xff", "\xed\xa0\x80", "c\u2028", "\t", "\x7f", "é")
	f.Fuzz(func(t *testing.T, method, uri, hname, hval, cname, cval, fk, fv string) {
		m := &requestMeta{Method: method, URI: uri, Path: uri, Headers: map[string][]string{hname: {hval, uri}},
			Cookies: map[string]string{cname: cval}, Form: [][2]string{{fk, fv}},
			Files: []upload{{Field: fk, Name: fv, TmpName: uri}}}
		got, want := roundTrip(t, m)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("hand-written %+v\njson.Marshal %+v", got, want)
		}
	})
}
