package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"thinkgate/internal/hub"
)

// The bus carries two kinds of payload between nodes: a hub.Command to run
// on the receiving node, and that node's local result. Both use a small
// binary layout (uvarint lengths) so that message bytes are never re-encoded.
//
// command: op byte, flags byte, ClientID, ClientIDs?, UIDs, Groups, Exclude,
// Message? (binary/raw in flags), then its Event, Channel and UserID when flagNamed,
// its Positions when flagPositions,
// Session? (presence in flags)
// result:  tag byte, then the value for that tag

const (
	flagClientIDs = 1 << iota // ClientIDs is non-nil (sendToAll to a list, possibly empty)
	flagMessage
	flagBinary
	flagRaw
	flagSession
	flagNamed     // the message has an Event or a Channel (Pusher)
	flagCode      // a close code follows the session
	flagPositions // the message's stream positions follow its data (and names)
)

// maxList bounds a decoded list, so a corrupt length cannot allocate much.
const maxList = 1 << 20

var errCorrupt = errors.New("cluster: corrupt bus message")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendList(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// encodeCommand appends cmd's wire form to b.
func encodeCommand(b []byte, cmd *hub.Command) []byte {
	var flags byte
	if cmd.ClientIDs != nil {
		flags |= flagClientIDs
	}
	if cmd.Message != nil {
		flags |= flagMessage
		if cmd.Message.Binary {
			flags |= flagBinary
		}
		if cmd.Message.Raw {
			flags |= flagRaw
		}
		if cmd.Message.Event != "" || cmd.Message.Channel != "" || cmd.Message.UserID != "" {
			flags |= flagNamed
		}
		if len(cmd.Message.Positions) > 0 {
			flags |= flagPositions
		}
	}
	if cmd.Session != nil {
		flags |= flagSession
	}
	if cmd.Code != 0 {
		flags |= flagCode
	}
	b = append(b, byte(cmd.Op), flags)
	b = appendString(b, cmd.ClientID)
	if cmd.ClientIDs != nil {
		b = appendList(b, cmd.ClientIDs)
	}
	b = appendList(b, cmd.UIDs)
	b = appendList(b, cmd.Groups)
	b = appendList(b, cmd.Exclude)
	if cmd.Message != nil {
		b = appendBytes(b, cmd.Message.Data)
		if flags&flagNamed != 0 {
			b = appendString(appendString(appendString(b, cmd.Message.Event), cmd.Message.Channel), cmd.Message.UserID)
		}
		if flags&flagPositions != 0 {
			b = binary.AppendUvarint(b, uint64(len(cmd.Message.Positions)))
			for _, p := range cmd.Message.Positions {
				b = appendString(binary.AppendUvarint(appendString(b, p.Stream), p.Offset), p.Epoch)
			}
		}
	}
	if cmd.Session != nil {
		b = appendBytes(b, cmd.Session)
	}
	if cmd.Code != 0 {
		b = binary.AppendVarint(b, int64(cmd.Code))
	}
	return b
}

// reader consumes a bus message; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || v < 0 || v > 4999 { // a close code
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) list() []string {
	n := r.uvarint()
	if r.err != nil || n > maxList || n > uint64(len(r.b)) { // every entry takes at least one byte
		r.err = errCorrupt
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		l = append(l, r.string())
	}
	return l
}

// decodeCommand parses a command encoded by encodeCommand. The command's
// byte fields alias b.
func decodeCommand(b []byte) (*hub.Command, error) {
	r := &reader{b: b}
	cmd := &hub.Command{Op: hub.Op(r.byte())}
	flags := r.byte()
	cmd.ClientID = r.string()
	if flags&flagClientIDs != 0 {
		cmd.ClientIDs = r.list()
	}
	cmd.UIDs = r.list()
	cmd.Groups = r.list()
	cmd.Exclude = r.list()
	if flags&flagMessage != 0 {
		cmd.Message = &hub.Message{Binary: flags&flagBinary != 0, Raw: flags&flagRaw != 0, Data: r.bytes()}
		if flags&flagNamed != 0 {
			cmd.Message.Event, cmd.Message.Channel, cmd.Message.UserID = r.string(), r.string(), r.string()
		}
		if flags&flagPositions != 0 {
			n := r.uvarint()
			if n > maxList {
				r.err = errCorrupt
				n = 0
			}
			for range n {
				cmd.Message.Positions = append(cmd.Message.Positions, hub.Position{Stream: r.string(), Offset: r.uvarint(), Epoch: r.string()})
			}
		}
	}
	if flags&flagSession != 0 {
		cmd.Session = r.bytes()
	}
	if flags&flagCode != 0 {
		cmd.Code = r.varint()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	if r.err != nil {
		return nil, r.err
	}
	if _, known := hub.ParseOp(cmd.Op.String()); !known {
		return nil, fmt.Errorf("%w: unknown operation %d", errCorrupt, cmd.Op)
	}
	return cmd, nil
}

// Result tags.
const (
	tagNil byte = iota
	tagBool
	tagInt
	tagString
	tagList
	tagSession
	tagSessions
	tagError
	tagInvalid // an error wrapping hub.ErrInvalid
)

// encodeResult appends a local hub.Do result, or its error, to b.
func encodeResult(b []byte, res any, err error) []byte {
	if err != nil {
		tag := tagError
		if errors.Is(err, hub.ErrInvalid) {
			tag = tagInvalid
		}
		return appendString(append(b, tag), err.Error())
	}
	switch v := res.(type) {
	case nil:
		return append(b, tagNil)
	case bool:
		if v {
			return append(b, tagBool, 1)
		}
		return append(b, tagBool, 0)
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v))
	case string:
		return appendString(append(b, tagString), v)
	case []string:
		return appendList(append(b, tagList), v)
	case hub.Session:
		return appendBytes(append(b, tagSession), v)
	case map[string]hub.Session:
		b = binary.AppendUvarint(append(b, tagSessions), uint64(len(v)))
		for id, s := range v {
			b = appendBytes(appendString(b, id), s)
		}
		return b
	}
	return appendString(append(b, tagError), fmt.Sprintf("cluster: cannot encode a %T result", res))
}

// remoteError is an error another node returned for a command.
type remoteError struct {
	msg     string
	invalid bool
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	if e.invalid {
		return hub.ErrInvalid
	}
	return nil
}

// decodeResult parses a result encoded by encodeResult, returning the
// value hub.Do would have returned on that node.
func decodeResult(b []byte) (any, error) {
	r := &reader{b: b}
	var res any
	var rerr error
	switch tag := r.byte(); tag {
	case tagNil:
	case tagBool:
		res = r.byte() == 1
	case tagInt:
		if r.err == nil {
			v, n := binary.Varint(r.b)
			if n <= 0 {
				r.err = errCorrupt
			} else {
				r.b = r.b[n:]
				res = int(v)
			}
		}
	case tagString:
		res = r.string()
	case tagList:
		res = r.list()
	case tagSession:
		res = hub.Session(r.bytes())
	case tagSessions:
		n := r.uvarint()
		if n > maxList || n > uint64(len(r.b)) {
			r.err = errCorrupt
			break
		}
		m := make(map[string]hub.Session, n)
		for range n {
			id := r.string()
			m[id] = hub.Session(r.bytes())
		}
		res = m
	case tagError, tagInvalid:
		rerr = &remoteError{msg: r.string(), invalid: tag == tagInvalid}
	default:
		r.err = errCorrupt
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	if r.err != nil {
		return nil, r.err
	}
	return res, rerr
}
