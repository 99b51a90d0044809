// Package webhook is the event sink that POSTs WebSocket client events to
// the app over HTTP: connect, message and close per client, and online and
// offline per uid, batched, signed with HMAC-SHA256, and with close and
// offline events retried when the app does not take them.
//
// Each POST body is {"events": [...]} with the headers
//
//	X-Thinkgate-Timestamp: <Unix seconds>
//	X-Thinkgate-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// and the app should refuse a timestamp more than 5 minutes away from its
// clock. An uid that goes offline and comes back within Options.OfflineDelay
// (a page reload, a network blip) produces neither offline nor online.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/events"
	"thinkgate/internal/hub"
)

// Options configure the sink.
type Options struct {
	URL          string
	Secret       string
	BatchSize    int           // events per POST at most
	BatchWait    time.Duration // how long an event may wait for others to share its POST
	OfflineDelay time.Duration // an uid offline this long is reported; back sooner, nothing is
	Timeout      time.Duration // per POST
	Retries      int           // further attempts for close and offline events
}

// Event is one entry of a POST's events list.
type Event struct {
	Type     string `json:"type"` // connect, message, close, online, offline
	ClientID string `json:"client_id,omitempty"`
	UID      string `json:"uid,omitempty"`
	Data     string `json:"data,omitempty"`   // message: text, or base64 when binary
	Binary   bool   `json:"binary,omitempty"` // message
	Remote   string `json:"remote,omitempty"` // connect
	URI      string `json:"uri,omitempty"`    // connect
	Time     int64  `json:"time"`             // Unix milliseconds
}

// mustDeliver: events retried after a failed POST.
func (e Event) mustDeliver() bool { return e.Type == "close" || e.Type == "offline" }

// queueSize bounds the events waiting to be sent; past it they are dropped
// (and counted) rather than holding up the clients.
const queueSize = 1 << 16

// Sink posts events; its methods never block.
type Sink struct {
	cur  atomic.Pointer[Options] // replaced by SetOptions on reload
	log  *slog.Logger
	hc   *http.Client
	q    chan Event
	qmu  sync.RWMutex // closed under its write lock
	shut bool

	mu      sync.Mutex
	offline map[string]*offlineWait // uids waiting out OfflineDelay

	Posted, Failed, Dropped atomic.Uint64 // events
	retries                 sync.WaitGroup
	done                    chan struct{}

	// OnlineElsewhere, when set before use (in a cluster), reports whether
	// a uid still has clients on another node; such a uid is not reported
	// offline when its last client here leaves.
	OnlineElsewhere func(uid string) (bool, error)
	// OnlineFirst, when set before use (in a cluster), reports whether this
	// node is the one that has had the uid the longest; only that node
	// reports the uid online.
	OnlineFirst func(uid string) (bool, error)
}

// New starts a sink; Close flushes and stops it.
func New(o Options, log *slog.Logger) *Sink {
	s := &Sink{log: log, hc: &http.Client{}, q: make(chan Event, queueSize),
		offline: map[string]*offlineWait{}, done: make(chan struct{})}
	s.SetOptions(o)
	go s.run()
	return s
}

// SetOptions replaces the options (on reload): the next POST uses the new
// URL, secret and timeout; batching, retries and the offline delay apply
// from the next event on.
func (s *Sink) SetOptions(o Options) {
	if o.BatchSize < 1 {
		o.BatchSize = 100
	}
	if o.BatchWait <= 0 {
		o.BatchWait = 50 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	s.cur.Store(&o)
}

func (s *Sink) opts() *Options { return s.cur.Load() }

func (s *Sink) enqueue(e Event) {
	e.Time = time.Now().UnixMilli()
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.shut {
		return
	}
	select {
	case s.q <- e:
	default:
		if s.Dropped.Add(1)%1000 == 1 {
			s.log.Warn("webhook queue full; events dropped", "url", s.opts().URL, "dropped", s.Dropped.Load())
		}
	}
}

// Connect reports a new client.
func (s *Sink) Connect(c *events.Conn) {
	e := Event{Type: "connect", ClientID: c.Client.ID, UID: c.Client.UID()}
	if c.Handshake != nil {
		e.URI = c.Handshake.URI
		if c.Handshake.RemoteAddr != nil {
			e.Remote = c.Handshake.RemoteAddr.String()
		}
	}
	s.enqueue(e)
}

// Message reports a message from a client.
func (s *Sink) Message(c *hub.Client, binary bool, data []byte) {
	e := Event{Type: "message", ClientID: c.ID, UID: c.UID(), Binary: binary}
	if binary {
		e.Data = base64.StdEncoding.EncodeToString(data)
	} else {
		e.Data = string(data)
	}
	s.enqueue(e)
}

// Close reports a client gone.
func (s *Sink) Close(c *hub.Client) {
	s.enqueue(Event{Type: "close", ClientID: c.ID, UID: c.UID()})
}

// Presence is the hub's uid presence hook: online at once unless the uid
// is only back from a short absence; offline after OfflineDelay.
func (s *Sink) Presence(uid string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if online {
		if w, waiting := s.offline[uid]; waiting {
			w.timer.Stop()
			delete(s.offline, uid) // back within the window: no offline, no online
			return
		}
		if s.OnlineFirst == nil {
			s.enqueue(Event{Type: "online", UID: uid})
			return
		}
		go s.reportOnline(uid) // the cluster is asked outside the hub's lock
		return
	}
	w := &offlineWait{}
	w.timer = time.AfterFunc(max(s.opts().OfflineDelay, 0), func() { s.reportOffline(uid, w) })
	s.offline[uid] = w
}

// reportOnline sends uid's online event if this node is the first to have
// it in the cluster.
func (s *Sink) reportOnline(uid string) {
	first, err := s.OnlineFirst(uid)
	if err != nil {
		s.log.Warn("cannot tell whether another node has the uid already; reporting it online", "uid", uid, "err", err)
		first = true
	}
	if first {
		s.enqueue(Event{Type: "online", UID: uid})
	}
}

// offlineWait is one uid's pending offline event.
type offlineWait struct{ timer *time.Timer }

// reportOffline sends uid's offline event once its wait w has passed,
// unless the uid came back meanwhile or is still online on another node.
func (s *Sink) reportOffline(uid string, w *offlineWait) {
	pending := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.offline[uid] == w
	}
	if !pending() {
		return
	}
	elsewhere := false
	if s.OnlineElsewhere != nil { // asked outside the lock: it may wait on the cluster
		var err error
		if elsewhere, err = s.OnlineElsewhere(uid); err != nil {
			s.log.Warn("cannot tell whether the uid is online on another node; reporting it offline", "uid", uid, "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offline[uid] != w { // back while the cluster was asked
		return
	}
	delete(s.offline, uid)
	if !elsewhere {
		s.enqueue(Event{Type: "offline", UID: uid})
	}
}

// Shutdown sends what is queued and waits (up to ctx) for retries; events
// after it are dropped.
func (s *Sink) Shutdown(ctx context.Context) error {
	s.qmu.Lock()
	if !s.shut {
		s.shut = true
		close(s.q)
	}
	s.qmu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("webhook: %w", ctx.Err())
	}
	waited := make(chan struct{})
	go func() { s.retries.Wait(); close(waited) }()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhook retries: %w", ctx.Err())
	}
}

// run batches events and posts them.
func (s *Sink) run() {
	defer close(s.done)
	var batch []Event
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			s.deliver(batch, 0)
			batch = nil
		}
	}
	for {
		select {
		case e, ok := <-s.q:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(s.opts().BatchWait)
			}
			batch = append(batch, e)
			if len(batch) >= s.opts().BatchSize {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// deliver posts a batch; on failure the close and offline events in it go
// again, after a growing pause, up to Options.Retries times.
func (s *Sink) deliver(batch []Event, attempt int) {
	err := s.post(batch)
	if err == nil {
		s.Posted.Add(uint64(len(batch)))
		return
	}
	var again []Event
	for _, e := range batch {
		if e.mustDeliver() && attempt < s.opts().Retries {
			again = append(again, e)
		}
	}
	s.Failed.Add(uint64(len(batch) - len(again)))
	s.log.Warn("webhook POST failed", "url", s.opts().URL, "err", err, "events", len(batch), "retrying", len(again), "attempt", attempt+1)
	if len(again) == 0 {
		return
	}
	s.retries.Add(1)
	go func() {
		defer s.retries.Done()
		time.Sleep(min(250*time.Millisecond<<attempt, 30*time.Second))
		s.deliver(again, attempt+1)
	}()
}

func (s *Sink) post(batch []Event) error {
	body, err := json.Marshal(map[string]any{"events": batch})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	o := s.opts()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "thinkgate-webhook")
	req.Header.Set("X-Thinkgate-Timestamp", ts)
	req.Header.Set("X-Thinkgate-Signature", Sign(o.Secret, ts, body))
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// Sign is the X-Thinkgate-Signature value for a timestamp and body.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a request's signature and that its timestamp is within
// maxSkew of now: what a receiving app does (also in PHP, Thinkgate\Webhook).
func Verify(secret, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("timestamp %s is %s away from now", timestamp, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return fmt.Errorf("signature does not match")
	}
	return nil
}
