package phpser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FromJSON decodes JSON the way PHP's json_decode($s, true) does, keeping
// object key order: objects and lists become arrays (numeric-string keys
// become int keys), numbers without '.', 'e' or 'E' that fit int64 become
// ints, others floats.
func FromJSON(data []byte) (Value, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := fromTokens(d, 0)
	if err != nil {
		return Value{}, fmt.Errorf("json: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Value{}, errors.New("json: trailing data")
	}
	return v, nil
}

func fromTokens(d *json.Decoder, depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, errors.New("nested too deeply")
	}
	t, err := d.Token()
	if err != nil {
		return Value{}, err
	}
	switch x := t.(type) {
	case nil:
		return Value{}, nil
	case bool:
		return Value{Kind: Bool, B: x}, nil
	case string:
		return Str(x), nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return IntV(i), nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Value{}, err
		}
		return Value{Kind: Float, F: f}, nil
	case json.Delim:
		a := NewArr()
		switch x {
		case '[':
			for d.More() {
				v, err := fromTokens(d, depth+1)
				if err != nil {
					return Value{}, err
				}
				a.Append(v)
			}
		case '{':
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return Value{}, err
				}
				v, err := fromTokens(d, depth+1)
				if err != nil {
					return Value{}, err
				}
				a.Set(StrKey(kt.(string)), v)
			}
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return Value{}, err
		}
		return ArrV(a), nil
	}
	return Value{}, fmt.Errorf("unexpected token %v", t)
}

// ToJSON encodes v the way PHP's json_encode($v, JSON_UNESCAPED_UNICODE)
// does (what workerman v5 sends for a non-string message): lists as JSON
// arrays, other arrays as objects, "/" escaped as "\/", non-ASCII kept,
// integral floats with ".0". Invalid UTF-8 is replaced by U+FFFD. Opaque
// values (objects PHP could not rebuild) encode as {}.
func ToJSON(v Value) []byte { return appendJSON(nil, v) }

func appendJSON(b []byte, v Value) []byte {
	switch v.Kind {
	case Null:
		return append(b, "null"...)
	case Bool:
		return strconv.AppendBool(b, v.B)
	case Int:
		return strconv.AppendInt(b, v.I, 10)
	case Float:
		s := formatFloat(v.F, 'e', true)
		if s == "NAN" || s == "INF" || s == "-INF" {
			return append(b, '0') // json_encode fails on these; PHP's partial output is 0
		}
		return append(b, s...)
	case String:
		return appendJSONString(b, v.S)
	case Opaque:
		return append(b, "{}"...)
	case Array:
		if v.A.IsList() {
			b = append(b, '[')
			for i := range v.A.vals {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSON(b, v.A.vals[i])
			}
			return append(b, ']')
		}
		b = append(b, '{')
		for i, k := range v.A.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k.String())
			b = append(b, ':')
			b = appendJSON(b, v.A.vals[i])
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b = append(b, `\"`...)
			case '\\':
				b = append(b, `\\`...)
			case '/':
				b = append(b, `\/`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			default:
				if c < 0x20 {
					b = append(b, fmt.Sprintf(`\u%04x`, c)...)
				} else {
					b = append(b, c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// MarshalJSON lets a Value appear in encoding/json output with its order kept.
func (v Value) MarshalJSON() ([]byte, error) { return ToJSON(v), nil }
