package phpworker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configure a Pool.
type PoolOptions struct {
	Workers        int           // processes
	MaxJobs        int           // retire a worker after about this many requests (±12% jitter); 0: never
	MaxMemory      int64         // retire a worker whose PHP memory passes this after a response; 0: never
	RequestTimeout time.Duration // wall clock per request; the worker is killed past it
	QueueTimeout   time.Duration // wait this long for a free worker, then ErrBusy
	StopGrace      time.Duration // time a retiring worker gets to exit after STOP
}

// ErrBusy means no worker became free within the queue timeout (503).
var ErrBusy = errors.New("all PHP workers busy")

// ErrClosed means the pool is shut down.
var ErrClosed = errors.New("worker pool closed")

// Pool keeps Workers PHP processes running and hands out one per request.
// A worker that crashed, timed out, asked to recycle, or passed MaxJobs or
// MaxMemory is replaced; a request is never replayed. Workers that fail to
// boot are retried with a growing pause, and the pool keeps serving with
// those it has.
type Pool struct {
	log *slog.Logger

	idle chan *Worker

	mu       sync.Mutex
	spec     Spec
	opts     PoolOptions
	gen      int // current generation; workers of older ones retire
	all      map[*Worker]bool
	closed   bool
	failures int // consecutive boot failures
	lastErr  error
	wg       sync.WaitGroup

	Served  atomic.Uint64
	Crashed atomic.Uint64
	Spawned atomic.Uint64

	// Adapter and Framework are what the first worker said it runs (its
	// READY frame): "thinkphp" and ThinkPHP's version, or "plain".
	Adapter, Framework string
}

// NewPool starts the workers and waits until the first one is ready, so a
// broken app fails start-up with PHP's own error.
func NewPool(spec Spec, opts PoolOptions, log *slog.Logger) (*Pool, error) {
	opts.Workers = min(max(opts.Workers, 1), maxWorkers)
	// idle holds every worker of two generations during a reload, whatever
	// the worker count becomes, so sends to it never block.
	p := &Pool{spec: spec, opts: opts, log: log, idle: make(chan *Worker, 2*maxWorkers), all: map[*Worker]bool{}}
	first, err := p.start(0)
	if err != nil {
		return nil, err
	}
	var ready struct{ Adapter, Framework string }
	json.Unmarshal(first.Ready, &ready)
	p.Adapter, p.Framework = ready.Adapter, ready.Framework
	p.idle <- first
	for range opts.Workers - 1 {
		p.replace(0)
	}
	return p, nil
}

// maxWorkers bounds PoolOptions.Workers (config.MaxWorkers).
const maxWorkers = 512

// options returns the current options.
func (p *Pool) options() PoolOptions {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opts
}

// SetOptions changes the options and the worker spec for what comes next:
// limits apply to the next request, MaxJobs and the spec to workers started
// from now on, and a new Workers count at the next Reload.
func (p *Pool) SetOptions(spec Spec, opts PoolOptions) {
	opts.Workers = min(max(opts.Workers, 1), maxWorkers)
	p.mu.Lock()
	p.spec, p.opts = spec, opts
	p.mu.Unlock()
}

// start boots one worker of generation gen.
func (p *Pool) start(gen int) (*Worker, error) {
	p.mu.Lock()
	spec, maxJobs := p.spec, p.opts.MaxJobs
	p.mu.Unlock()
	w, err := Start(spec, p.log)
	if err != nil {
		return nil, err
	}
	w.Gen = gen
	if maxJobs > 0 {
		w.maxJobs = jitter(maxJobs)
	}
	p.Spawned.Add(1)
	p.mu.Lock()
	p.all[w] = true
	p.mu.Unlock()
	p.log.Debug("php worker ready", "pid", w.PID, "gen", gen)
	return w, nil
}

// jitter spreads n by ±12% so workers do not all retire at once.
func jitter(n int) int {
	spread := n / 8
	if spread == 0 {
		return n
	}
	return n - spread + rand.IntN(2*spread+1)
}

// replace boots a worker in the background and adds it to the idle set,
// pausing after consecutive boot failures.
func (p *Pool) replace(gen int) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			p.mu.Lock()
			closed, failures, current := p.closed, p.failures, p.gen
			p.mu.Unlock()
			if closed || gen != current {
				return
			}
			if failures > 0 {
				pause := min(100*time.Millisecond<<min(failures-1, 7), 10*time.Second)
				time.Sleep(pause)
			}
			w, err := p.start(gen)
			p.mu.Lock()
			if err != nil {
				p.failures++
				p.lastErr = err
				p.mu.Unlock()
				p.log.Error("php worker failed to boot; retrying", "err", err, "failures", failures+1)
				continue
			}
			p.failures = 0
			stale := p.closed || gen != p.gen
			p.mu.Unlock()
			if stale {
				p.retire(w)
				return
			}
			p.idle <- w
			return
		}
	}()
}

// retire stops a worker and forgets it.
func (p *Pool) retire(w *Worker) {
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		w.Stop(p.options().StopGrace)
	}()
}

// discard forgets a dead worker.
func (p *Pool) discard(w *Worker) {
	w.Kill()
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
}

// acquire waits for an idle worker of the current generation.
func (p *Pool) acquire(ctx context.Context) (*Worker, error) {
	timer := time.NewTimer(p.options().QueueTimeout)
	defer timer.Stop()
	for {
		select {
		case w, ok := <-p.idle:
			if !ok {
				return nil, ErrClosed
			}
			p.mu.Lock()
			gen := p.gen
			p.mu.Unlock()
			select {
			case <-w.Exited(): // died while idle
				p.Crashed.Add(1)
				p.discard(w)
				p.replace(gen)
				continue
			default:
			}
			if w.Gen != gen {
				p.retire(w)
				continue
			}
			return w, nil
		case <-timer.C:
			return nil, ErrBusy
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Serve runs one request on a free worker; see Worker.Serve for emit.
func (p *Pool) Serve(ctx context.Context, req *Frame, emit func(*Frame) error) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.mu.Unlock()
	w, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	res, err := w.Serve(ctx, req, p.options().RequestTimeout, emit)
	p.Served.Add(1)
	p.release(w, res, err)
	return err
}

// release returns the worker to the pool or replaces it.
func (p *Pool) release(w *Worker, res Result, err error) {
	p.mu.Lock()
	gen, closed, maxMem := p.gen, p.closed, p.opts.MaxMemory
	p.mu.Unlock()
	jobs, mem := int(w.Jobs.Load()), w.Mem.Load()
	switch {
	case err != nil:
		p.Crashed.Add(1)
		p.log.Warn("php worker lost during a request; replacing it", "pid", w.PID, "err", err)
		p.discard(w)
		p.replace(gen)
	case closed:
		p.retire(w)
	case res.Recycle, w.maxJobs > 0 && jobs >= w.maxJobs, maxMem > 0 && mem > maxMem:
		p.log.Debug("php worker retired", "pid", w.PID, "jobs", jobs, "mem", mem, "recycle", res.Recycle)
		p.retire(w)
		p.replace(gen)
	case w.Gen != gen:
		p.retire(w)
	default:
		p.idle <- w
	}
}

// Reload replaces every worker without dropping a request: a new generation
// boots first; only when all of it is ready do old workers retire (idle ones
// at once, busy ones after their request). If the new generation fails to
// boot, the old one keeps serving and the error is returned.
func (p *Pool) Reload() error {
	p.mu.Lock()
	next, count := p.gen+1, p.opts.Workers
	p.mu.Unlock()
	fresh := make([]*Worker, 0, count)
	for range count {
		w, err := p.start(next)
		if err != nil {
			for _, f := range fresh {
				p.retire(f)
			}
			return fmt.Errorf("reload: new workers failed to boot, old ones keep serving: %w", err)
		}
		fresh = append(fresh, w)
	}
	p.mu.Lock()
	p.gen = next
	p.failures = 0
	p.mu.Unlock()
	for _, w := range fresh {
		p.idle <- w
	}
	// Retire the old workers that are idle now; busy ones retire when they
	// come back (release) and acquire skips any it meets.
	for n := len(p.idle); n > 0; n-- {
		select {
		case w := <-p.idle:
			if w.Gen != next {
				p.retire(w)
			} else {
				p.idle <- w
			}
		default:
			n = 1
		}
	}
	p.log.Info("php workers reloaded", "gen", next, "workers", count)
	return nil
}

// Close stops every worker, letting requests in flight finish first.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for {
			p.mu.Lock()
			n := len(p.all)
			p.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case w := <-p.idle:
				p.retire(w)
			case <-time.After(10 * time.Millisecond):
			}
		}
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for w := range p.all {
			w.Kill()
		}
		p.mu.Unlock()
		return fmt.Errorf("php pool shutdown: %w", ctx.Err())
	}
}

// Stats is a snapshot for /status.
type Stats struct {
	Adapter   string `json:"adapter"`             // thinkphp or plain
	Framework string `json:"framework,omitempty"` // ThinkPHP's version
	Workers   int    `json:"workers"`
	Idle      int    `json:"idle"`
	Gen       int    `json:"generation"`
	Served    uint64 `json:"served"`
	Crashed   uint64 `json:"crashed"`
	Spawned   uint64 `json:"spawned"`
	LastErr   string `json:"last_boot_error,omitempty"`

	Procs []WorkerStats `json:"processes"`
}

// WorkerStats describes one PHP process for status.
type WorkerStats struct {
	PID           int    `json:"pid"`
	Gen           int    `json:"generation"`
	State         string `json:"state"` // "busy" or "idle"
	Requests      int64  `json:"requests"`
	PHPMemory     int64  `json:"php_memory_bytes"`
	RSS           int64  `json:"rss_bytes"`
	UptimeSeconds int64  `json:"uptime_seconds"`
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Adapter: p.Adapter, Framework: p.Framework, Workers: len(p.all), Idle: len(p.idle), Gen: p.gen, Served: p.Served.Load(), Crashed: p.Crashed.Load(), Spawned: p.Spawned.Load()}
	if p.lastErr != nil {
		s.LastErr = p.lastErr.Error()
	}
	for w := range p.all {
		state := "idle"
		if w.Busy() {
			state = "busy"
		}
		s.Procs = append(s.Procs, WorkerStats{
			PID: w.PID, Gen: w.Gen, State: state, Requests: w.Jobs.Load(), PHPMemory: w.Mem.Load(),
			RSS: w.RSS(), UptimeSeconds: int64(time.Since(w.Started).Seconds()),
		})
	}
	slices.SortFunc(s.Procs, func(a, b WorkerStats) int { return cmp.Compare(a.PID, b.PID) })
	return s
}
