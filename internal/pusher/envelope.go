package pusher

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"thinkgate/internal/hub"
)

// Envelope appends the Pusher event a hub message is to a client:
// {"event":...,"channel":...,"data":...}. A message published through
// Pusher (Event set) carries the JSON of its data (a string, or a client
// event's object) in Data; a plain push (Event "") is the event "message"
// with the payload as its data string (base64, and "encoding":"base64",
// when binary or not UTF-8). The channel is the message's group without the
// app prefix; no channel when it was not sent to a group. nil for a raw
// message (bytes for a WebSocket socket as they are): Pusher clients cannot
// be sent one.
func Envelope(b []byte, m *hub.Message) []byte {
	if m.Raw {
		return nil
	}
	b = append(b, `{"event":`...)
	if m.Event != "" {
		b = appendJSONString(b, m.Event)
	} else {
		b = append(b, `"message"`...)
	}
	if m.Channel != "" {
		b = append(b, `,"channel":`...)
		b = appendJSONString(b, ChannelFromGroup(m.Channel))
	}
	if m.UserID != "" {
		b = append(b, `,"user_id":`...)
		b = appendJSONString(b, m.UserID)
	}
	b = append(b, `,"data":`...)
	switch {
	case m.Event != "":
		b = append(b, m.Data...)
	case m.Binary || !utf8.Valid(m.Data):
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, m.Data)
		b = append(b, `","encoding":"base64"`...)
	default:
		b = appendJSONString(b, string(m.Data))
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
