package pusher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Hook is one webhook event, as Pusher sends it: name and channel, and for
// some events user_id, event, data, socket_id.
type Hook struct {
	Name     string `json:"name"`
	Channel  string `json:"channel"`
	UserID   string `json:"user_id,omitempty"`
	Event    string `json:"event,omitempty"`
	Data     string `json:"data,omitempty"`
	SocketID string `json:"socket_id,omitempty"`
}

// Webhooks POSTs an app's webhook events to its webhook_url: batched (what
// gathers within Wait, up to 100 a POST), signed (X-Pusher-Key, and
// X-Pusher-Signature: the hex HMAC-SHA256 of the body with the secret),
// retried up to Retries times with growing pauses when the app does not
// answer 2xx. A full queue (10,000 events) drops new events with a log line.
type Webhooks struct {
	App     *App
	Client  *http.Client
	Wait    time.Duration
	Retries int
	Log     *slog.Logger

	mu      sync.Mutex
	queue   []Hook
	pending bool // a batch is being gathered or sent
	dropped int
}

const maxQueuedHooks = 10_000

// Send queues h.
func (w *Webhooks) Send(h Hook) {
	if w == nil || w.App.WebhookURL == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) >= maxQueuedHooks {
		w.dropped++
		if w.dropped == 1 || w.dropped%1000 == 0 {
			w.Log.Warn("pusher webhook queue full; events dropped", "app", w.App.ID, "dropped", w.dropped)
		}
		return
	}
	w.queue = append(w.queue, h)
	if !w.pending {
		w.pending = true
		time.AfterFunc(w.Wait, w.flush)
	}
}

// flush sends what is queued, batch after batch, until the queue is empty.
func (w *Webhooks) flush() {
	for {
		w.mu.Lock()
		n := min(len(w.queue), 100)
		if n == 0 {
			w.pending = false
			w.mu.Unlock()
			return
		}
		batch := append([]Hook(nil), w.queue[:n]...)
		w.queue = w.queue[n:]
		w.mu.Unlock()
		w.post(batch)
	}
}

func (w *Webhooks) post(batch []Hook) {
	body, _ := json.Marshal(struct {
		TimeMS int64  `json:"time_ms"`
		Events []Hook `json:"events"`
	}{time.Now().UnixMilli(), batch})
	sig := w.App.Sign(string(body))
	var err error
	for attempt := 0; attempt <= w.Retries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 500 * time.Millisecond)
		}
		if err = w.postOnce(body, sig); err == nil {
			return
		}
	}
	w.Log.Warn("pusher webhook not delivered", "app", w.App.ID, "url", w.App.WebhookURL, "events", len(batch), "err", err)
}

func (w *Webhooks) postOnce(body []byte, sig string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.App.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("pusher webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Pusher-Key", w.App.Key)
	req.Header.Set("X-Pusher-Signature", sig)
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("pusher webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("pusher webhook: %s answered %s", w.App.WebhookURL, resp.Status)
	}
	return nil
}
