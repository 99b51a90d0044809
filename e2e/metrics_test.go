package e2e

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// metric returns the value of the sample whose name and labels start line,
// e.g. `thinkgate_deliveries_total{op="sendToUid"}`.
func metric(t *testing.T, body, sample string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", sample)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestPrometheusMetrics(t *testing.T) {
	s := start(t, "[api]\nkey = \"k\"\n[ws]\nmax_message_size = 100")
	a, b := s.dial(), s.dial()
	post := func(method string, params map[string]any) {
		t.Helper()
		if status, body := s.post("/api/"+method, params, "k"); status != 200 {
			t.Fatalf("%s: %d %s", method, status, body)
		}
	}
	post("bindUid", map[string]any{"client_id": a.ID, "uid": "u1"})
	post("bindUid", map[string]any{"client_id": b.ID, "uid": "u1"})
	for range 3 {
		post("sendToUid", map[string]any{"uid": "u1", "data": "hello"})
	}
	post("sendToAll", map[string]any{"data": "all"})
	c := s.dial()
	c.WriteText(strings.Repeat("x", 200)) // over max_message_size: closed as oversize
	a.WriteText("a message")

	req, _ := http.NewRequest("GET", "http://"+s.addr("api")+"/metrics", nil)
	if resp, _ := fetch(t, req); resp.StatusCode != 401 {
		t.Fatalf("/metrics without the key: %d", resp.StatusCode)
	}
	var body string
	waitFor(t, func() bool {
		req, _ := http.NewRequest("GET", "http://"+s.addr("api")+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer k")
		_, body = fetch(t, req)
		return strings.Contains(body, `thinkgate_ws_closed_total{reason="oversize"} 1`) &&
			strings.Contains(body, "thinkgate_ws_messages_received_total 1") &&
			strings.Contains(body, "\nthinkgate_clients 2\n") // the oversize client is gone once thinkgate closes it
	})
	checks := []struct {
		sample string
		want   float64
	}{
		{"thinkgate_clients", 2},
		{"thinkgate_uids", 1},
		{`thinkgate_commands_total{op="sendToUid"}`, 3},
		{`thinkgate_deliveries_total{op="sendToUid"}`, 6},
		{`thinkgate_deliveries_total{op="sendToAll"}`, 2}, // before the third client connected
		{"thinkgate_delivered_bytes_total", 6*7 + 2*5},    // "hello" frames are 7 bytes, "all" 5
		{`thinkgate_api_request_duration_seconds_count{method="sendToUid"}`, 3},
		{"thinkgate_ws_connections_accepted_total", 3},
	}
	for _, c := range checks {
		if got := metric(t, body, c.sample); got != c.want {
			t.Errorf("%s = %v, want %v", c.sample, got, c.want)
		}
	}
}

// TestPHPMetrics: requests answered by PHP workers are counted and timed.
func TestPHPMetrics(t *testing.T) {
	s, base := startApp(t, "")
	for range 4 {
		get(t, base+"/hello")
	}
	get(t, base+"/nowhere")
	_, body := get(t, "http://"+s.addr("api")+"/metrics")
	if got := metric(t, body, `thinkgate_php_request_duration_seconds_count{code="2xx"}`); got != 4 {
		t.Fatalf("2xx count %v", got)
	}
	if got := metric(t, body, `thinkgate_php_request_duration_seconds_count{code="4xx"}`); got != 1 {
		t.Fatalf("4xx count %v", got)
	}
	if got := metric(t, body, "thinkgate_php_requests_total"); got != 5 {
		t.Fatalf("php requests %v", got)
	}
	// The worker of the last request goes back to the pool just after its
	// response is written.
	waitFor(t, func() bool {
		_, body = get(t, "http://"+s.addr("api")+"/metrics")
		return metric(t, body, `thinkgate_php_workers{state="idle"}`) == 2 && metric(t, body, `thinkgate_php_workers{state="busy"}`) == 0
	})
}
