// Package phpser is the PHP value model that GatewayWorker's wire carries:
// PHP serialize() and unserialize() for the subset on that wire
// (GatewayWorker carries sessions in serialize() form), PHP's ordered arrays with their
// key normalization, array_replace_recursive, and conversion from and to
// JSON with json_decode/json_encode semantics. Objects, enums, custom
// serializations and references are kept as opaque bytes that round-trip
// unchanged.
package phpser

import (
	"strconv"
)

// Kind is a PHP value's type.
type Kind uint8

// The kinds of value.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	Array
	Opaque // an object, enum, custom serialization or reference, kept verbatim
)

// Value is one PHP value. The zero Value is null.
type Value struct {
	Kind Kind
	B    bool
	I    int64
	F    float64
	S    string // String: the bytes; Opaque: the serialized form
	A    *Arr
}

// Key is a PHP array key: an int, or a string that is not a canonical integer.
type Key struct {
	IsInt bool
	I     int64
	S     string
}

// String returns the key as PHP would print it.
func (k Key) String() string {
	if k.IsInt {
		return strconv.FormatInt(k.I, 10)
	}
	return k.S
}

// IntKey returns the int key i.
func IntKey(i int64) Key { return Key{IsInt: true, I: i} }

// StrKey returns the key PHP uses for s: a canonical decimal integer within
// int64 ("123", "-5", "0") becomes an int key; anything else ("02", "1.5",
// "9223372036854775808", "") stays a string.
func StrKey(s string) Key {
	if i, ok := canonicalInt(s); ok {
		return IntKey(i)
	}
	return Key{S: s}
}

func canonicalInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	digits := s
	if s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || (digits[0] == '0' && len(digits) > 1) || (s[0] == '-' && digits == "0") {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

// Arr is an ordered PHP array.
type Arr struct {
	keys  []Key
	vals  []Value
	index map[Key]int
	next  int64 // the next key append would use, as PHP's nNextFreeElement
}

// NewArr returns an empty array.
func NewArr() *Arr { return &Arr{index: map[Key]int{}} }

// Len returns the number of entries.
func (a *Arr) Len() int { return len(a.keys) }

// At returns the i-th entry in order.
func (a *Arr) At(i int) (Key, Value) { return a.keys[i], a.vals[i] }

// Get returns the value at k.
func (a *Arr) Get(k Key) (Value, bool) {
	if i, ok := a.index[k]; ok {
		return a.vals[i], true
	}
	return Value{}, false
}

// Set stores v at k; an existing key keeps its position.
func (a *Arr) Set(k Key, v Value) {
	if i, ok := a.index[k]; ok {
		a.vals[i] = v
		return
	}
	a.index[k] = len(a.keys)
	a.keys = append(a.keys, k)
	a.vals = append(a.vals, v)
	if k.IsInt && k.I >= a.next {
		a.next = k.I + 1
	}
}

// Append stores v under the next integer key, as $a[] = v.
func (a *Arr) Append(v Value) { a.Set(IntKey(a.next), v) }

// IsList reports whether the keys are exactly 0, 1, 2, ... in order, which
// json_encode writes as a JSON array.
func (a *Arr) IsList() bool {
	for i, k := range a.keys {
		if !k.IsInt || k.I != int64(i) {
			return false
		}
	}
	return true
}

// Clone deep-copies the array.
func (a *Arr) Clone() *Arr {
	c := NewArr()
	for i, k := range a.keys {
		c.Set(k, a.vals[i].Clone())
	}
	c.next = a.next
	return c
}

// Clone deep-copies v.
func (v Value) Clone() Value {
	if v.Kind == Array {
		v.A = v.A.Clone()
	}
	return v
}

// Str returns a string value.
func Str(s string) Value { return Value{Kind: String, S: s} }

// IntV returns an int value.
func IntV(i int64) Value { return Value{Kind: Int, I: i} }

// ArrV wraps an array.
func ArrV(a *Arr) Value { return Value{Kind: Array, A: a} }

// ReplaceRecursive merges update into old like PHP's
// array_replace_recursive(old, update): for each key of update, where both
// sides are arrays it recurses, otherwise update's value replaces old's;
// existing keys keep their position, new keys are appended. old is not
// modified.
func ReplaceRecursive(old, update *Arr) *Arr {
	out := old.Clone()
	for i, k := range update.keys {
		nv := update.vals[i]
		if ov, ok := out.Get(k); ok && ov.Kind == Array && nv.Kind == Array {
			out.Set(k, ArrV(ReplaceRecursive(ov.A, nv.A)))
			continue
		}
		out.Set(k, nv.Clone())
	}
	return out
}

// Scalar returns the string PHP gets from (string)$v for a scalar: ints in
// decimal, true as "1", false and null as "", floats as PHP prints them.
func (v Value) Scalar() string {
	switch v.Kind {
	case String, Opaque:
		return v.S
	case Int:
		return strconv.FormatInt(v.I, 10)
	case Bool:
		if v.B {
			return "1"
		}
		return ""
	case Float:
		return formatFloat(v.F, 'E', false)
	}
	return ""
}
