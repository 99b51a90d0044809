package phpser

import (
	"bytes"
	"math"
	"testing"
)

// Payloads captured from a real GatewayWorker 4.0 / GatewayClient 3.1.1
// cluster.
var captured = []string{
	`a:6:{s:4:"name";s:5:"alice";s:1:"n";i:2;s:1:"f";d:1.5;s:1:"b";b:1;s:1:"x";N;s:3:"arr";a:2:{s:1:"a";i:1;s:1:"b";i:2;}}`,
	`a:0:{}`, `N;`, `i:1;`, `i:0;`, `i:2;`,
	`a:1:{i:0;i:3;}`,
	`a:3:{s:2:"u1";a:1:{i:0;i:3;}i:42;a:1:{i:0;i:4;}s:6:"nobody";a:0:{}}`,
	`a:2:{i:0;s:4:"room";i:1;i:123;}`,
	`a:3:{s:4:"room";i:2;i:123;i:1;s:4:"none";i:0;}`,
	`a:2:{i:3;a:1:{s:3:"uid";s:2:"u1";}i:4;a:1:{s:3:"uid";s:2:"42";}}`,
	`a:2:{i:3;s:0:"";i:4;s:0:"";}`,
	`a:2:{i:4;a:3:{s:7:"session";s:0:"";s:3:"uid";s:2:"42";s:6:"groups";a:2:{s:4:"room";s:4:"room";i:123;s:3:"123";}}i:5;N;}`,
	`a:1:{s:1:"o";O:3:"Foo":2:{s:1:"a";i:1;s:6:"` + "\x00*\x00pro" + `";a:0:{}}}`,
	`a:2:{s:1:"e";E:7:"Foo:Bar";s:1:"c";C:3:"Baz":5:{x;y;z}}`,
	`a:1:{s:4:"q"ue";s:3:"a"b";}`,
}

func TestCapturedPayloadsRoundTrip(t *testing.T) {
	for _, s := range captured {
		v, err := Unserialize([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := string(Serialize(v)); got != s {
			t.Errorf("round trip\n got %s\nwant %s", got, s)
		}
	}
}

func TestKeyNormalization(t *testing.T) {
	for s, wantInt := range map[string]bool{
		"123": true, "0": true, "-5": true, "9223372036854775807": true,
		"02": false, "1.5": false, "9223372036854775808": false, "": false, "-0": false, "+1": false, " 1": false, "1a": false,
	} {
		if got := StrKey(s).IsInt; got != wantInt {
			t.Errorf("StrKey(%q).IsInt = %v", s, got)
		}
	}
	a := NewArr()
	a.Set(StrKey("123"), Str("123"))
	a.Set(StrKey("room"), Str("room"))
	if got := string(Serialize(ArrV(a))); got != `a:2:{i:123;s:3:"123";s:4:"room";s:4:"room";}` {
		t.Fatalf("got %s", got)
	}
}

func TestFloatsLikePHP(t *testing.T) {
	// serialize() output verified on PHP 8.2.
	cases := []struct {
		f    float64
		want string
	}{
		{1.5, "d:1.5;"}, {100, "d:100;"}, {1, "d:1;"}, {0.0001, "d:0.0001;"}, {1e-5, "d:1.0E-5;"},
		{1e16, "d:10000000000000000;"}, {1e17, "d:1.0E+17;"}, {1.5e20, "d:1.5E+20;"}, {0.1, "d:0.1;"},
		{-2.5, "d:-2.5;"}, {math.Copysign(0, -1), "d:-0;"}, {0, "d:0;"},
		{math.Inf(1), "d:INF;"}, {math.Inf(-1), "d:-INF;"}, {math.NaN(), "d:NAN;"},
		{123456.789, "d:123456.789;"}, {1.0 / 3, "d:0.3333333333333333;"},
	}
	for _, c := range cases {
		if got := string(Serialize(Value{Kind: Float, F: c.f})); got != c.want {
			t.Errorf("%v: got %s want %s", c.f, got, c.want)
		}
	}
	for f, want := range map[float64]string{1: "1.0", 1.5: "1.5", 1e20: "1.0e+20", 0.1: "0.1"} {
		if got := string(ToJSON(Value{Kind: Float, F: f})); got != want {
			t.Errorf("json %v: got %s want %s", f, got, want)
		}
	}
}

func TestReplaceRecursive(t *testing.T) {
	// The captured updateSession merge, and the list-by-index rule.
	old, _ := Unserialize([]byte(`a:7:{s:4:"name";s:5:"alice";s:1:"n";i:1;s:1:"f";d:1.5;s:1:"b";b:1;s:1:"x";N;s:3:"arr";a:1:{s:1:"a";i:1;}s:1:"l";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}`))
	upd, _ := Unserialize([]byte(`a:4:{s:1:"n";i:2;s:3:"arr";a:1:{s:1:"b";i:2;}s:1:"l";a:1:{i:0;i:9;}s:3:"new";s:1:"y";}`))
	got := string(Serialize(ArrV(ReplaceRecursive(old.A, upd.A))))
	want := `a:8:{s:4:"name";s:5:"alice";s:1:"n";i:2;s:1:"f";d:1.5;s:1:"b";b:1;s:1:"x";N;s:3:"arr";a:2:{s:1:"a";i:1;s:1:"b";i:2;}s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:3:"new";s:1:"y";}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if string(Serialize(old)) == got {
		t.Fatal("old was modified")
	}
}

func TestJSON(t *testing.T) {
	v, err := FromJSON([]byte(`{"z":1,"a":[1,2.0,"x/y",null,true],"2":{"é":"\u00e9"},"big":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(Serialize(v)); got != `a:4:{s:1:"z";i:1;s:1:"a";a:5:{i:0;i:1;i:1;d:2;i:2;s:3:"x/y";i:3;N;i:4;b:1;}i:2;a:1:{s:2:"é";s:2:"é";}s:3:"big";d:1.2345678901234567E+19;}` {
		t.Fatalf("from JSON: %s", got)
	}
	if got := string(ToJSON(v)); got != `{"z":1,"a":[1,2.0,"x\/y",null,true],"2":{"é":"é"},"big":1.2345678901234567e+19}` {
		t.Fatalf("to JSON: %s", got)
	}
	sparse := NewArr()
	sparse.Set(IntKey(1), Str("a"))
	if got := string(ToJSON(ArrV(sparse))); got != `{"1":"a"}` {
		t.Fatalf("non-list array: %s", got)
	}
	for _, bad := range []string{`{`, `[1,]`, `{"a":1} x`, ``} {
		if _, err := FromJSON([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUnserializeRejects(t *testing.T) {
	for _, bad := range []string{
		``, `N`, `i:;`, `i:1`, `s:5:"abc";`, `s:-1:"";`, `a:1:{i:0;}`, `a:1:{a:0:{}i:1;}`, `b:2;`, `x:1;`,
		`a:99999999999:{}`, `i:1;i:2;`, `s:3:"abc"`, `d:abc;`, `O:3:"Foo":1:{}`,
	} {
		if _, err := Unserialize([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzUnserialize: parsing never panics, and whatever parses serializes to
// a canonical form that parses back to the same bytes.
func FuzzUnserialize(f *testing.F) {
	for _, s := range captured {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Unserialize(b)
		if err != nil {
			return
		}
		once := Serialize(v)
		w, err := Unserialize(once)
		if err != nil {
			t.Fatalf("own output %q does not parse: %v", once, err)
		}
		if twice := Serialize(w); !bytes.Equal(once, twice) {
			t.Fatalf("not stable: %q then %q", once, twice)
		}
		ToJSON(v)
	})
}

// FuzzFromJSON: any JSON gives a value whose serialization parses back.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"2",3.5]`, `{"1":{"2":[]}}`, `"x"`, `null`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := FromJSON(b)
		if err != nil {
			return
		}
		if _, err := Unserialize(Serialize(v)); err != nil {
			t.Fatalf("serialize of %q does not parse: %v", b, err)
		}
	})
}
