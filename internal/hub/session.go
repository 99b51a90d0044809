package hub

import (
	"fmt"
	"slices"

	"thinkgate/internal/phpser"
)

// Session is a client's session stored the way GatewayWorker stores it:
// PHP-serialized bytes, empty when never set, so PHP code reads back exactly
// what it wrote. Its JSON form is the unserialized value ({} when empty).
type Session []byte

// MarshalJSON renders the session as JSON with its key order kept; bytes
// that are not PHP serialize() data come out as a JSON string.
func (s Session) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("{}"), nil
	}
	v, err := phpser.Unserialize(s)
	if err != nil {
		return phpser.ToJSON(phpser.Str(string(s))), nil
	}
	if v.Kind == phpser.Array && v.A.Len() == 0 {
		return []byte("{}"), nil
	}
	return phpser.ToJSON(v), nil
}

// mergeSession is GatewayWorker's updateSession: an empty stored session
// takes the update as is; otherwise both are unserialized and merged with
// array_replace_recursive. A stored session that does not parse is replaced.
func mergeSession(old, update []byte) (Session, error) {
	nv, err := phpser.Unserialize(update)
	if err != nil || nv.Kind != phpser.Array {
		return nil, fmt.Errorf("%w: session update must be an array", ErrInvalid)
	}
	if len(old) == 0 {
		return Session(slices.Clone(update)), nil
	}
	ov, err := phpser.Unserialize(old)
	if err != nil || ov.Kind != phpser.Array {
		return Session(slices.Clone(update)), nil
	}
	return Session(phpser.Serialize(phpser.ArrV(phpser.ReplaceRecursive(ov.A, nv.A)))), nil
}
