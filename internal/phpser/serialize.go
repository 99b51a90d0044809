package phpser

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Serialize returns PHP's serialize() of v.
func Serialize(v Value) []byte { return AppendSerialize(nil, v) }

// AppendSerialize appends serialize(v) to b.
func AppendSerialize(b []byte, v Value) []byte {
	switch v.Kind {
	case Null:
		return append(b, "N;"...)
	case Bool:
		if v.B {
			return append(b, "b:1;"...)
		}
		return append(b, "b:0;"...)
	case Int:
		b = append(b, "i:"...)
		b = strconv.AppendInt(b, v.I, 10)
		return append(b, ';')
	case Float:
		b = append(b, "d:"...)
		b = append(b, formatFloat(v.F, 'E', false)...)
		return append(b, ';')
	case String:
		return appendString(b, v.S)
	case Opaque:
		return append(b, v.S...)
	case Array:
		b = append(b, "a:"...)
		b = strconv.AppendInt(b, int64(v.A.Len()), 10)
		b = append(b, ":{"...)
		for i, k := range v.A.keys {
			b = appendKey(b, k)
			b = AppendSerialize(b, v.A.vals[i])
		}
		return append(b, '}')
	}
	return append(b, "N;"...)
}

func appendString(b []byte, s string) []byte {
	b = append(b, "s:"...)
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ":\""...)
	b = append(b, s...)
	return append(b, "\";"...)
}

func appendKey(b []byte, k Key) []byte {
	if k.IsInt {
		b = append(b, "i:"...)
		b = strconv.AppendInt(b, k.I, 10)
		return append(b, ';')
	}
	return appendString(b, k.S)
}

// formatFloat prints f the way PHP does with serialize_precision = -1: the
// shortest digits that round-trip; plain notation while the decimal exponent
// is in [-4, 16], otherwise "1.5E+20" style (exp is 'E' for serialize, 'e'
// for json_encode). zeroFrac adds ".0" to integral plain values, as
// json_encode does and serialize does not.
func formatFloat(f float64, exp byte, zeroFrac bool) string {
	switch {
	case math.IsNaN(f):
		return "NAN"
	case math.IsInf(f, 1):
		return "INF"
	case math.IsInf(f, -1):
		return "-INF"
	case f == 0:
		s := "0"
		if math.Signbit(f) {
			s = "-0"
		}
		if zeroFrac {
			s += ".0"
		}
		return s
	}
	// Shortest round-trip digits and the decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64) // "-1.2345e+20"
	mant, expStr, _ := strings.Cut(e, "e")
	neg := mant[0] == '-'
	if neg {
		mant = mant[1:]
	}
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(expStr)
	var s string
	if x < -4 || x > 16 {
		m := digits[:1] + "." + digits[1:]
		if len(digits) == 1 {
			m += "0"
		}
		sign := "+"
		if x < 0 {
			sign, x = "-", -x
		}
		s = m + string(exp) + sign + strconv.Itoa(x)
	} else {
		point := x + 1 // digits before the decimal point
		switch {
		case point <= 0:
			s = "0." + strings.Repeat("0", -point) + digits
		case point >= len(digits):
			s = digits + strings.Repeat("0", point-len(digits))
			if zeroFrac {
				s += ".0"
			}
		default:
			s = digits[:point] + "." + digits[point:]
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 256

// ErrSyntax is wrapped by every Unserialize error.
var ErrSyntax = errors.New("not PHP serialize() data")

// Unserialize parses one serialized value that must span all of b.
func Unserialize(b []byte) (Value, error) {
	p := parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	if p.i != len(b) {
		return Value{}, p.fail("trailing bytes")
	}
	return v, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", ErrSyntax, what, p.i)
}

func (p *parser) expect(s string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return p.fail("expected " + strconv.Quote(s))
	}
	p.i += len(s)
	return nil
}

// until returns the bytes up to (not including) the next c and skips c.
func (p *parser) until(c byte) (string, error) {
	j := bytes.IndexByte(p.b[p.i:], c)
	if j < 0 {
		return "", p.fail("expected " + strconv.Quote(string(c)))
	}
	s := string(p.b[p.i : p.i+j])
	p.i += j + 1
	return s, nil
}

func (p *parser) int(end byte) (int64, error) {
	s, err := p.until(end)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, p.fail("bad integer " + strconv.Quote(s))
	}
	return n, nil
}

// str reads `<len>:"<bytes>"` and returns the bytes.
func (p *parser) str() (string, error) {
	n, err := p.int(':')
	if err != nil {
		return "", err
	}
	if n < 0 || int64(len(p.b)-p.i) < n+2 {
		return "", p.fail("string length out of range")
	}
	if p.b[p.i] != '"' || p.b[p.i+1+int(n)] != '"' {
		return "", p.fail("string not quoted")
	}
	s := string(p.b[p.i+1 : p.i+1+int(n)])
	p.i += int(n) + 2
	return s, nil
}

func (p *parser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, p.fail("nested too deeply")
	}
	if len(p.b)-p.i < 2 {
		return Value{}, p.fail("truncated")
	}
	start := p.i
	t := p.b[p.i]
	if t == 'N' {
		if err := p.expect("N;"); err != nil {
			return Value{}, err
		}
		return Value{}, nil
	}
	if p.b[p.i+1] != ':' {
		return Value{}, p.fail("expected type and ':'")
	}
	p.i += 2
	switch t {
	case 'b':
		n, err := p.int(';')
		if err != nil || (n != 0 && n != 1) {
			return Value{}, p.fail("bad bool")
		}
		return Value{Kind: Bool, B: n == 1}, nil
	case 'i':
		n, err := p.int(';')
		if err != nil {
			return Value{}, err
		}
		return IntV(n), nil
	case 'd':
		s, err := p.until(';')
		if err != nil {
			return Value{}, err
		}
		f, err := parseFloat(s)
		if err != nil {
			return Value{}, p.fail("bad float " + strconv.Quote(s))
		}
		return Value{Kind: Float, F: f}, nil
	case 's':
		s, err := p.str()
		if err != nil {
			return Value{}, err
		}
		return Str(s), p.expect(";")
	case 'a':
		a := NewArr()
		return ArrV(a), p.entries(depth, a.Set)
	case 'O':
		if _, err := p.str(); err != nil { // class name
			return Value{}, err
		}
		if err := p.expect(":"); err != nil {
			return Value{}, err
		}
		if err := p.entries(depth, func(Key, Value) {}); err != nil {
			return Value{}, err
		}
	case 'C':
		if _, err := p.str(); err != nil {
			return Value{}, err
		}
		if err := p.expect(":"); err != nil {
			return Value{}, err
		}
		n, err := p.int(':')
		if err != nil {
			return Value{}, err
		}
		if n < 0 || int64(len(p.b)-p.i) < n+2 || p.b[p.i] != '{' || p.b[p.i+1+int(n)] != '}' {
			return Value{}, p.fail("bad custom serialization")
		}
		p.i += int(n) + 2
	case 'E':
		if _, err := p.str(); err != nil {
			return Value{}, err
		}
		if err := p.expect(";"); err != nil {
			return Value{}, err
		}
	case 'r', 'R':
		if _, err := p.int(';'); err != nil {
			return Value{}, err
		}
	default:
		return Value{}, p.fail("unknown type " + strconv.Quote(string(t)))
	}
	return Value{Kind: Opaque, S: string(p.b[start:p.i])}, nil
}

// entries reads `<count>:{<key><value>...}` (an array's or an object's
// body) and hands each pair to set.
func (p *parser) entries(depth int, set func(Key, Value)) error {
	n, err := p.int(':')
	if err != nil {
		return err
	}
	if n < 0 || n > int64(len(p.b)-p.i) {
		return p.fail("entry count out of range")
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	for range n {
		k, err := p.key()
		if err != nil {
			return err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		set(k, v)
	}
	return p.expect("}")
}

func (p *parser) key() (Key, error) {
	v, err := p.value(maxDepth)
	if err != nil {
		return Key{}, err
	}
	switch v.Kind {
	case Int:
		return IntKey(v.I), nil
	case String:
		return StrKey(v.S), nil
	}
	return Key{}, p.fail("array key is not an int or a string")
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "INF":
		return math.Inf(1), nil
	case "-INF":
		return math.Inf(-1), nil
	case "NAN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}
