package gwcompat

import (
	"net"
	"net/url"
	"strings"

	"thinkgate/internal/events"
	"thinkgate/internal/phpser"
)

// webSocketData is the body of CMD_ON_WEBSOCKET_CONNECT: the serialized
// array ['get' => ..., 'server' => ..., 'cookie' => ...] that
// Events::onWebSocketConnect receives as $data (workerman v5's layout).
func webSocketData(c *events.Conn) []byte {
	r := c.Handshake
	_, query, _ := strings.Cut(r.URI, "?")

	server := phpser.NewArr()
	set := func(k string, v phpser.Value) { server.Set(phpser.StrKey(k), v) }
	set("QUERY_STRING", phpser.Str(query))
	set("REQUEST_METHOD", phpser.Str("GET"))
	set("REQUEST_URI", phpser.Str(r.URI))
	set("SERVER_PROTOCOL", phpser.Str("HTTP/1.1"))
	host, _ := r.Lookup("Host")
	set("SERVER_NAME", phpser.Str(host))
	if ct, ok := r.Lookup("Content-Type"); ok {
		set("CONTENT_TYPE", phpser.Str(ct))
	} else {
		set("CONTENT_TYPE", phpser.Value{})
	}
	remoteIP, remotePort := splitAddr(r.RemoteAddr)
	_, localPort := splitAddr(r.LocalAddr)
	set("REMOTE_ADDR", phpser.Str(remoteIP))
	set("REMOTE_PORT", phpser.IntV(remotePort))
	set("SERVER_PORT", phpser.IntV(localPort))
	for _, h := range r.Headers {
		set("HTTP_"+strings.ToUpper(strings.ReplaceAll(h.Name, "-", "_")), phpser.Str(h.Value))
	}

	cookies := phpser.NewArr()
	if raw, ok := r.Lookup("Cookie"); ok {
		for _, part := range strings.Split(raw, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name == "" {
				continue
			}
			if v, err := url.QueryUnescape(value); err == nil {
				value = v
			}
			cookies.Set(phpser.StrKey(name), phpser.Str(value))
		}
	}

	data := phpser.NewArr()
	data.Set(phpser.StrKey("get"), phpser.ArrV(parseStr(query)))
	data.Set(phpser.StrKey("server"), phpser.ArrV(server))
	data.Set(phpser.StrKey("cookie"), phpser.ArrV(cookies))
	return phpser.Serialize(phpser.ArrV(data))
}

func splitAddr(a net.Addr) (string, int64) {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String(), int64(t.Port)
	}
	return "", 0
}

// parseStr parses a query string like PHP's parse_str: "a=1&x[b]=2&l[]=3"
// gives ['a' => '1', 'x' => ['b' => '2'], 'l' => ['3']]; dots and spaces in
// the top-level name become underscores.
func parseStr(query string) *phpser.Arr {
	out := phpser.NewArr()
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		name, rest, nested := strings.Cut(key, "[")
		name = strings.NewReplacer(".", "_", " ", "_").Replace(name)
		if name == "" {
			continue
		}
		if !nested || !strings.Contains(rest, "]") {
			out.Set(phpser.StrKey(name), phpser.Str(val))
			continue
		}
		// Subscripts: "b]" or "]" (append), possibly several: "a][b]".
		var subs []string
		for rest != "" {
			sub, after, ok := strings.Cut(rest, "]")
			if !ok {
				break
			}
			subs = append(subs, sub)
			if !strings.HasPrefix(after, "[") {
				break
			}
			rest = after[1:]
		}
		cur := out
		path := append([]string{name}, subs...)
		for i, p := range path {
			last := i == len(path)-1
			if last {
				if p == "" && i > 0 {
					cur.Append(phpser.Str(val))
				} else {
					cur.Set(phpser.StrKey(p), phpser.Str(val))
				}
				break
			}
			var next *phpser.Arr
			var k phpser.Key
			if p == "" && i > 0 {
				next = phpser.NewArr()
				cur.Append(phpser.ArrV(next))
				cur = next
				continue
			}
			k = phpser.StrKey(p)
			if existing, ok := cur.Get(k); ok && existing.Kind == phpser.Array {
				next = existing.A
			} else {
				next = phpser.NewArr()
				cur.Set(k, phpser.ArrV(next))
			}
			cur = next
		}
	}
	return out
}
