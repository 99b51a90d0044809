package phpworker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"thinkgate/internal/procstat"
	"time"
)

// Spec says how to start a worker process.
type Spec struct {
	PHP         string   // the php binary
	Args        []string // script and arguments, e.g. {"php/worker.php", "app.php"}
	Dir         string
	Env         []string // added to thinkgate's own environment
	BootTimeout time.Duration
	Limits      Limits
	INI         []string // php.ini settings, name=value, passed with -d
	// Push runs a gateway operation a request asked for (a TypePush frame's
	// meta) and returns the TypePushOK meta; nil answers every push with an error.
	Push func(meta []byte) []byte
	// Channel carries the frames: "pipes" (fd 3 and 4, the default off
	// Windows) or "tcp" (a loopback connection the worker makes back to
	// a port of this process, authenticated by a one-time token: Go cannot
	// pass extra descriptors to a child on Windows). "" picks the default.
	Channel string
}

// DefaultChannel is the channel where Spec.Channel is "".
func DefaultChannel() string {
	if runtime.GOOS == "windows" {
		return "tcp"
	}
	return "pipes"
}

// Errors a request can end with; the HTTP front maps them to statuses.
var (
	ErrTimeout = errors.New("request timed out; worker killed")          // 504
	ErrCrashed = errors.New("worker died before answering; see its log") // 502
)

// BootError is a worker that did not become ready; Stderr is what PHP said.
type BootError struct {
	Err    error
	Stderr string
}

func (e *BootError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("php worker failed to boot: %v", e.Err)
	}
	return fmt.Sprintf("php worker failed to boot: %v; php said: %s", e.Err, e.Stderr)
}

func (e *BootError) Unwrap() error { return e.Err }

// Worker is one running PHP process; one request at a time.
type Worker struct {
	PID   int
	Ready json.RawMessage // the READY frame's meta
	Gen   int             // the pool generation that started it
	Jobs  atomic.Int64    // requests served
	Mem   atomic.Int64    // memory_get_usage(true) after the last response

	Started time.Time   // when the process was started
	busy    atomic.Bool // serving a request

	maxJobs int // retire after this many requests (0: never); set by the pool

	cmd     *exec.Cmd
	toPHP   io.WriteCloser
	fromPHP *bufio.Reader
	limits  Limits
	push    func([]byte) []byte
	log     *slog.Logger
	exited  chan struct{}

	mu   sync.Mutex
	tail []string // the last lines of stderr
}

const tailLines = 20

// RSS is the process's resident memory in bytes, or 0 where unknown.
func (w *Worker) RSS() int64 { return procstat.RSS(w.PID) }

// Busy reports whether the worker is serving a request.
func (w *Worker) Busy() bool { return w.busy.Load() }

// Start runs a worker and waits for its READY frame.
func Start(spec Spec, log *slog.Logger) (*Worker, error) {
	if spec.Channel == "" {
		spec.Channel = DefaultChannel()
	}
	// OPcache in the CLI: code is compiled once per worker, and files the app
	// includes on every request (ThinkPHP's route files) are not recompiled,
	// which otherwise grows memory by a few hundred bytes per request.
	args := []string{"-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "opcache.enable_cli=1"}
	for _, kv := range spec.INI {
		args = append(args, "-d", kv)
	}
	cmd := exec.Command(spec.PHP, append(args, spec.Args...)...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = procAttr()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	ch, err := openChannel(spec.Channel, cmd)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		ch.abort()
		return nil, &BootError{Err: fmt.Errorf("starting %s: %w", spec.PHP, err)}
	}
	ch.started()
	w := &Worker{PID: cmd.Process.Pid, Started: time.Now(), cmd: cmd,
		limits: spec.Limits, push: spec.Push, log: log.With("pid", cmd.Process.Pid), exited: make(chan struct{})}
	var output sync.WaitGroup
	output.Add(2)
	go w.pipeLog(stdout, "php stdout", slog.LevelInfo, &output)
	go w.pipeLog(stderr, "php stderr", slog.LevelWarn, &output)
	go func() {
		output.Wait() // all output read before Wait closes the pipes
		cmd.Wait()
		ch.closeRead()
		close(w.exited)
	}()

	ready := make(chan error, 1)
	go func() {
		to, from, err := ch.connect(spec.BootTimeout)
		if err != nil {
			ready <- err
			return
		}
		w.toPHP, w.fromPHP = to, bufio.NewReaderSize(from, 64<<10)
		f, err := ReadFrame(w.fromPHP, w.limits)
		switch {
		case err != nil:
			ready <- err
		case f.Type != TypeReady:
			ready <- fmt.Errorf("%w: first frame has type %d, want READY", ErrProtocol, f.Type)
		default:
			w.Ready = f.Meta
			ready <- nil
		}
	}()
	timer := time.NewTimer(spec.BootTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("no READY within %s", spec.BootTimeout)
	}
	if err != nil {
		w.Kill()
		<-w.exited
		return nil, &BootError{Err: err, Stderr: w.stderrTail()}
	}
	return w, nil
}

// pipeLog logs each line the worker prints.
func (w *Worker) pipeLog(r io.Reader, msg string, level slog.Level, wg *sync.WaitGroup) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		w.log.Log(context.Background(), level, msg, "line", line)
		if level == slog.LevelWarn {
			w.mu.Lock()
			w.tail = append(w.tail, line)
			if len(w.tail) > tailLines {
				w.tail = w.tail[1:]
			}
			w.mu.Unlock()
		}
	}
}

func (w *Worker) stderrTail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// Exited is closed once the process has ended.
func (w *Worker) Exited() <-chan struct{} { return w.exited }

// Kill ends the process at once.
func (w *Worker) Kill() { w.cmd.Process.Kill() }

// Stop asks the worker to finish (STOP frame), then kills it after grace.
func (w *Worker) Stop(grace time.Duration) {
	WriteFrame(w.toPHP, &Frame{Type: TypeStop})
	w.toPHP.Close()
	select {
	case <-w.exited:
	case <-time.After(grace):
		w.Kill()
		<-w.exited
	}
}

// Result is how a request ended for the worker.
type Result struct {
	Recycle bool // the worker asked to be retired (exit(), fatal error)
}

// Serve sends req and passes each frame of the answer to emit until the
// answer is complete (RESPONSE, ERROR or FILE, or HEAD ... END). When ctx
// ends (the client went away) or emit fails, the worker gets a CANCEL and its
// remaining frames are read and dropped, so PHP never blocks on a full pipe.
// After timeout the worker is killed and ErrTimeout returned; a worker that
// dies first gives ErrCrashed. After either, the worker is unusable.
func (w *Worker) Serve(ctx context.Context, req *Frame, timeout time.Duration, emit func(*Frame) error) (Result, error) {
	w.busy.Store(true)
	defer w.busy.Store(false)
	if err := WriteFrame(w.toPHP, req); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrCrashed, err)
	}
	var timedOut sync.Once
	timeoutHit := false
	timer := time.AfterFunc(timeout, func() { timedOut.Do(func() { timeoutHit = true; w.Kill() }) })
	cancelled := false
	cancel := func() {
		if !cancelled {
			cancelled = true
			WriteFrame(w.toPHP, &Frame{Type: TypeCancel})
		}
	}
	stopWatch := context.AfterFunc(ctx, cancel)
	defer stopWatch()
	var res Result
	streaming := false
	for {
		f, err := ReadFrame(w.fromPHP, w.limits)
		if err != nil {
			timer.Stop()
			timedOut.Do(func() {})
			if timeoutHit {
				return res, ErrTimeout
			}
			w.Kill()
			var tooLarge *TooLargeError
			if errors.As(err, &tooLarge) {
				return res, err
			}
			return res, fmt.Errorf("%w: %v", ErrCrashed, err)
		}
		if f.Flags&FlagRecycle != 0 {
			res.Recycle = true
		}
		switch f.Type {
		case TypeLog:
			w.log.Info("php log", "line", string(f.Body))
			continue
		case TypePong:
			continue
		case TypePush:
			reply := []byte(`{"error":{"code":"unavailable","message":"no gateway in this process"}}`)
			if w.push != nil {
				reply = w.push(f.Meta)
			}
			if err := WriteFrame(w.toPHP, &Frame{Type: TypePushOK, Meta: reply}); err != nil {
				w.Kill()
			}
			continue
		}
		if f.Type == TypeHead {
			streaming = true
		}
		if !cancelled {
			if err := emit(f); err != nil {
				cancel()
			}
		}
		done := !streaming && (f.Type == TypeResp || f.Type == TypeError || f.Type == TypeFile) ||
			streaming && f.Type == TypeEnd
		if done {
			timer.Stop()
			if mem := metaMem(f.Meta); mem > 0 {
				w.Mem.Store(mem)
			}
			w.Jobs.Add(1)
			return res, nil
		}
	}
}

// metaMem is the "mem" number of a final frame's JSON meta (PHP's
// memory_get_usage), found without decoding the rest of the meta; 0 when
// absent.
func metaMem(meta []byte) int64 {
	i := bytes.Index(meta, []byte(`"mem":`))
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range meta[i+6:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
