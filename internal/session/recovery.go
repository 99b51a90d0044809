package session

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"thinkgate/internal/history"
	"thinkgate/internal/hub"
	"thinkgate/internal/pusher"
	"thinkgate/internal/transport"
	"thinkgate/internal/transport/sse"
	"thinkgate/internal/transport/websocket"
)

// NativeV2WebSocket is the native protocol's version 2 (a client that
// connects with ?v=2, as thinkgate.js does): every message is a JSON
// envelope, {"type":"message","data":...}, with "stream", "offset" and
// "epoch" when it was sent to a uid or group that keeps history, so that
// the client can ask for what it missed after a reconnect.
var NativeV2WebSocket = hub.NewStreamEncoding("native2+websocket", func(m *hub.Message) []byte {
	if m.Raw {
		return nil // bytes for a WebSocket socket as they are: not a message a v2 client can read
	}
	return websocket.Frame(appendV2(make([]byte, 0, len(m.Data)+96), m, m.Data, m.Binary), false)
})

// NativeV2SSE is version 2 over Server-Sent Events: the same envelope as
// an event, whose id is the message's position ("<stream> <offset>
// <epoch>"), so that an EventSource that reconnects by itself sends it back
// as Last-Event-ID.
var NativeV2SSE = hub.NewStreamEncoding("native2+sse", func(m *hub.Message) []byte {
	if m.Raw {
		return nil
	}
	return sseEvent(m, m.Data, m.Binary)
})

func sseEvent(m *hub.Message, data []byte, binary bool) []byte {
	id := ""
	if p, ok := m.Position(); ok {
		id = p.Stream + " " + strconv.FormatUint(p.Offset, 10) + " " + p.Epoch
	}
	return sse.Frame(id, appendV2(make([]byte, 0, len(data)+96), m, data, binary))
}

// sseRecover is the recover request an SSE client's connect carries: its
// recover parameter (the streams, as JSON), else its Last-Event-ID.
func sseRecover(r *transport.Request) (recoverRequest, bool) {
	req := recoverRequest{Type: "recover"}
	if _, q, ok := strings.Cut(r.URI, "?"); ok {
		if v, _ := url.ParseQuery(q); v.Get("recover") != "" {
			if json.Unmarshal([]byte(v.Get("recover")), &req.Streams) == nil && len(req.Streams) > 0 {
				return req, true
			}
		}
	}
	last, ok := r.Lookup("Last-Event-ID")
	f := strings.Fields(last)
	if !ok || len(f) != 3 {
		return req, false
	}
	off, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return req, false
	}
	req.Streams = map[string]struct {
		Offset uint64 `json:"offset"`
		Epoch  string `json:"epoch"`
	}{f[0]: {Offset: off, Epoch: f[2]}}
	return req, true
}

// appendV2 appends a version 2 message envelope.
func appendV2(b []byte, m *hub.Message, data []byte, binary bool) []byte {
	b = append(b, `{"type":"message"`...)
	if p, ok := m.Position(); ok {
		b = appendPosition(b, p)
	}
	switch {
	case m.Event != "": // a Pusher event: its JSON
		b = append(b, `,"data":`...)
		b = appendJSON(b, string(pusher.Envelope(nil, m)))
	case binary || !utf8.Valid(data):
		b = append(b, `,"binary":true,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, data)
		b = append(b, '"')
	default:
		b = append(b, `,"data":`...)
		b = appendJSON(b, string(data))
	}
	return append(b, '}')
}

func appendPosition(b []byte, p hub.Position) []byte {
	b = append(b, `,"stream":`...)
	b = appendJSON(b, p.Stream)
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, p.Offset, 10)
	b = append(b, `,"epoch":`...)
	return appendJSON(b, p.Epoch)
}

func appendJSON(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// recoverRequest is a v2 client's {"type":"recover","streams":{...}}: for
// each stream, the last position it saw.
type recoverRequest struct {
	Type    string `json:"type"`
	Streams map[string]struct {
		Offset uint64 `json:"offset"`
		Epoch  string `json:"epoch"`
	} `json:"streams"`
}

// streamState is one stream's answer in {"type":"recovered"}.
type streamState struct {
	Recovered bool   `json:"recovered"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Missed    int    `json:"missed"`
	NotMember bool   `json:"not_member,omitempty"` // the client does not receive the stream (not bound to it yet)
	Reason    string `json:"reason,omitempty"`
}

// maxRecoverStreams bounds one recover request.
const maxRecoverStreams = 64

// recover replays, for each stream the client receives, what it missed
// since the position it gave, in order, then says per stream whether that
// was everything ({"type":"recovered",...}). Live messages go on meanwhile;
// the client puts the two together by offset (thinkgate.js does).
func (c *nativeClient) recover(req recoverRequest, cl *hub.Client) {
	store := c.proto.o.History
	out := map[string]streamState{}
	n := 0
	for stream, at := range req.Streams {
		if n++; n > maxRecoverStreams {
			out[stream] = streamState{Reason: "more than 64 streams in one request"}
			continue
		}
		switch {
		case store == nil:
			out[stream] = streamState{Reason: "history is off ([history] in the configuration)"}
			continue
		case !cl.InStream(stream):
			out[stream] = streamState{NotMember: true, Reason: "this client does not receive that stream"}
			continue
		}
		entries, top, ok, err := store.Since(stream, at.Offset, at.Epoch, time.Now())
		if err != nil {
			out[stream] = streamState{Offset: at.Offset, Epoch: at.Epoch, Reason: err.Error()}
			continue
		}
		if !ok {
			out[stream] = streamState{Offset: top.Offset, Epoch: top.Epoch, Reason: "outside the kept history, or its epoch changed"}
			continue
		}
		for _, e := range entries {
			m := &hub.Message{Data: e.Data, Binary: e.Binary, Event: e.Event, Stream: stream,
				Positions: []hub.Position{{Stream: stream, Offset: e.Offset, Epoch: top.Epoch}}}
			if g, isGroup := cutGroup(stream); isGroup {
				m.Channel = g
			}
			if c.proto.o.SSE {
				c.Conn.Send(sseEvent(m, e.Data, e.Binary))
			} else {
				c.Conn.Send(websocket.Frame(appendV2(nil, m, e.Data, e.Binary), false))
			}
		}
		out[stream] = streamState{Recovered: true, Offset: top.Offset, Epoch: top.Epoch, Missed: len(entries)}
	}
	b, _ := json.Marshal(map[string]any{"type": "recovered", "streams": out})
	c.Conn.Send(c.frame(b))
}

func cutGroup(stream string) (string, bool) {
	if len(stream) > 2 && stream[:2] == "g:" {
		return stream[2:], true
	}
	return "", false
}

// HistoryReader is what recovery needs of a history store.
type HistoryReader interface {
	Since(stream string, offset uint64, epoch string, now time.Time) ([]history.Entry, hub.Position, bool, error)
}
