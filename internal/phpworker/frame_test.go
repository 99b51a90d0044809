package phpworker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/testenv"
)

// knownVector is PHP's Protocol::encode(RESPONSE, FLAG_RECYCLE, '{"status":200}', "hi\0"),
// printed by php-cli; the Go codec must produce and read exactly these bytes.
const knownVector = "011101000e00000003000000e947f5677b22737461747573223a3230307d686900"

func TestKnownVector(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, &Frame{Type: TypeResp, Flags: FlagRecycle, Meta: []byte(`{"status":200}`), Body: []byte("hi\x00")}); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(buf.Bytes()); got != knownVector {
		t.Fatalf("got  %s\nwant %s", got, knownVector)
	}
	b, _ := hex.DecodeString(knownVector)
	f, err := ReadFrame(bytes.NewReader(b), Limits{})
	if err != nil || f.Type != TypeResp || f.Flags != FlagRecycle || string(f.Meta) != `{"status":200}` || string(f.Body) != "hi\x00" {
		t.Fatalf("read %+v %v", f, err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	good, _ := hex.DecodeString(knownVector)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	cases := map[string][]byte{
		"crc":              flip(13),
		"type under crc":   flip(1),
		"truncated header": good[:10],
		"truncated body":   good[:len(good)-1],
		"stray output":     append([]byte("Warning: x\n"), good...),
		"oversize":         (&Frame{Type: TypeResp, Body: make([]byte, 101)}).AppendHeader(nil),
		"version 2":        withCRC([]byte{2, TypeReady, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
	}
	for name, b := range cases {
		_, err := ReadFrame(bytes.NewReader(b), Limits{Body: 100})
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(nil), Limits{}); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
}

// withCRC completes a 12-byte header with its CRC.
func withCRC(h []byte) []byte {
	return binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
}

// FuzzReadFrame: arbitrary bytes never panic or allocate past the limits,
// and what is read re-encodes to the same bytes.
func FuzzReadFrame(f *testing.F) {
	good, _ := hex.DecodeString(knownVector)
	f.Add(good)
	f.Add(append(bytes.Clone(good), good...))
	f.Add((&Frame{Type: TypeReady}).AppendHeader(nil))
	f.Add([]byte("PHP Warning: oops\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(bytes.NewReader(data), Limits{Meta: 1 << 16, Body: 1 << 16})
		if err != nil {
			return
		}
		var buf bytes.Buffer
		WriteFrame(&buf, fr)
		if !bytes.HasPrefix(data, buf.Bytes()) {
			t.Fatalf("re-encoded frame differs from its input")
		}
	})
}

func needPHP(t testing.TB) string { return testenv.PHP(t) }

// TestPHPCodec runs the PHP codec's own tests.
func TestPHPCodec(t *testing.T) {
	out, err := exec.Command(needPHP(t), "../../php/tests/protocol_test.php").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
		t.Fatalf("php tests: %v\n%s", err, out)
	}
}

// TestPipesWithPHP: frames cross real fd 3/4 pipes to php-cli and back
// intact, binary and large, while the worker prints to stdout and stderr.
// startEcho runs cmd (php/tests/echo_worker.php) with the protocol pipes on
// fd 3 and fd 4, and returns the end Go writes frames to and a reader of
// the frames PHP writes back. The process is killed when the test ends.
func startEcho(t testing.TB, cmd *exec.Cmd) (*os.File, *bufio.Reader) {
	t.Helper()
	toPHP, goWrites, err := pipe() // the kind of pipe workers get
	if err != nil {
		t.Fatal(err)
	}
	goReads, fromPHP, err := pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{toPHP, fromPHP} // fd 3 and fd 4
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toPHP.Close()
	fromPHP.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	return goWrites, bufio.NewReader(goReads)
}

func TestPipesWithPHP(t *testing.T) {
	cmd := exec.Command(needPHP(t), "../../php/tests/echo_worker.php")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	goWrites, r := startEcho(t, cmd)

	ready, err := ReadFrame(r, Limits{})
	if err != nil || ready.Type != TypeReady || !bytes.Contains(ready.Meta, []byte(`"pid"`)) {
		t.Fatalf("READY: %+v %v", ready, err)
	}
	frames := []*Frame{
		{Type: TypeRequest, Meta: []byte(`{"uri":"/é?x=1"}`), Body: []byte("a\x00b\xff")},
		{Type: TypePing, Flags: FlagMore},
		{Type: TypeRequest, Meta: []byte(`{}`), Body: bytes.Repeat([]byte{0, 1, 2, 3}, 1<<18)}, // 1 MiB
	}
	for i, f := range frames {
		if err := WriteFrame(goWrites, f); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(r, Limits{})
		if err != nil {
			t.Fatalf("frame %d: %v\nstderr: %s", i, err, stderr.String())
		}
		if got.Type != f.Type+100 || got.Flags != f.Flags || !bytes.Equal(got.Meta, f.Meta) || !bytes.Equal(got.Body, f.Body) {
			t.Fatalf("frame %d came back changed", i)
		}
	}
	WriteFrame(goWrites, &Frame{Type: TypeStop})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not stop")
	}
	if !strings.Contains(stdout.String(), "stray echo before READY") || !strings.Contains(stderr.String(), "stderr noise") {
		t.Fatalf("worker output was not kept apart: stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestMetaMem(t *testing.T) {
	for _, c := range []struct {
		meta string
		want int64
	}{
		{`{"status":200,"headers":{},"mem":2097152}`, 2097152},
		{`{"mem":512}`, 512},
		{`{"status":200}`, 0},
		{``, 0},
		{`{"mem":"x"}`, 0},
	} {
		if got := metaMem([]byte(c.meta)); got != c.want {
			t.Errorf("metaMem(%s) = %d, want %d", c.meta, got, c.want)
		}
	}
}
