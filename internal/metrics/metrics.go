// Package metrics exposes a node's figures to Prometheus. Gauges and most
// counters are read at scrape time from the counters the node keeps anyway,
// so the hot paths pay nothing for them; only command counts and request
// latencies are recorded as they happen.
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"thinkgate/internal/cluster"
	"thinkgate/internal/hub"
	"thinkgate/internal/phpworker"
	"thinkgate/internal/transport/websocket"
)

// Sources are read at scrape time; nil ones are left out.
type Sources struct {
	Hub  *hub.Hub
	WS   func() websocket.Stats
	Pool func() phpworker.Stats
	// Cluster, when set, gives the bus counters and the live node count.
	Cluster func() (cluster.Stats, int)
}

// Metrics holds the registry and the recorded series.
type Metrics struct {
	reg         *prometheus.Registry
	commands    *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	bytesOut    prometheus.Counter
	apiDuration *prometheus.HistogramVec
	phpDuration *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec

	Delivered atomic.Uint64 // messages queued to clients, for status rates
}

// New builds the registry for a node.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thinkgate_commands_total", Help: "Gateway operations run, by operation, from every source (HTTP API, Text port, GatewayWorker protocol).",
		}, []string{"op"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thinkgate_deliveries_total", Help: "Messages queued to clients by send operations, by operation.",
		}, []string{"op"}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thinkgate_delivered_bytes_total", Help: "Bytes of WebSocket frames queued to clients by send operations.",
		}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "thinkgate_api_request_duration_seconds", Help: "HTTP API request latency, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"method"}),
		phpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "thinkgate_php_request_duration_seconds", Help: "Latency of HTTP requests answered by PHP workers, by status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thinkgate_rate_limited_total", Help: "Clients and requests turned away by a rate limit, by limit (connections_per_ip, connect_rate_per_ip, message_rate, api_rate).",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.commands, m.deliveries, m.bytesOut, m.apiDuration, m.phpDuration, m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.Hub != nil {
		h := src.Hub
		reg.MustRegister(
			gauge("thinkgate_clients", "Connected WebSocket clients.", func() float64 { return float64(h.ClientCount()) }),
			gauge("thinkgate_uids", "Uids with at least one client.", func() float64 { return float64(h.UIDCount()) }),
			gauge("thinkgate_groups", "Groups with at least one client.", func() float64 { return float64(h.GroupCount()) }),
		)
	}
	if src.WS != nil {
		reg.MustRegister(&wsCollector{stats: src.WS})
	}
	if src.Pool != nil {
		reg.MustRegister(&poolCollector{stats: src.Pool})
	}
	if src.Cluster != nil {
		stat := func(f func(cluster.Stats) uint64) func() float64 {
			return func() float64 { s, _ := src.Cluster(); return float64(f(s)) }
		}
		counter := func(name, help string, f func(cluster.Stats) uint64) prometheus.CounterFunc {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, stat(f))
		}
		reg.MustRegister(
			counter("thinkgate_cluster_requests_sent_total", "Requests this node sent to other nodes over the cluster bus.", func(s cluster.Stats) uint64 { return s.Sent }),
			counter("thinkgate_cluster_requests_received_total", "Requests other nodes sent to this node.", func(s cluster.Stats) uint64 { return s.Received }),
			counter("thinkgate_cluster_pushes_received_total", "Pushes (sendToUid, sendToGroup, sendToAll) other nodes sent to this node.", func(s cluster.Stats) uint64 { return s.PushesIn }),
			counter("thinkgate_cluster_pushes_idle_total", "Pushes received from other nodes that found no client here (interest routing keeps this near 0).", func(s cluster.Stats) uint64 { return s.Idle }),
			counter("thinkgate_cluster_pushes_total", "uid, group and all pushes started on this node.", func(s cluster.Stats) uint64 { return s.Pushes }),
			gauge("thinkgate_cluster_nodes", "Live nodes in the cluster, this one included.", func() float64 { _, n := src.Cluster(); return float64(n) }),
		)
	}
	return m
}

func gauge(name, help string, f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Command records one gateway operation and what it delivered.
func (m *Metrics) Command(op hub.Op, delivered, bytes int) {
	name := op.String()
	m.commands.WithLabelValues(name).Inc()
	if delivered > 0 {
		m.Delivered.Add(uint64(delivered))
		m.deliveries.WithLabelValues(name).Add(float64(delivered))
		m.bytesOut.Add(float64(bytes))
	}
}

// RateLimited counts one client or request turned away by limit.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// APIRequest records one HTTP API request.
func (m *Metrics) APIRequest(method string, d time.Duration) {
	m.apiDuration.WithLabelValues(method).Observe(d.Seconds())
}

// PHPRequest records one request answered through the PHP pool.
func (m *Metrics) PHPRequest(status int, d time.Duration) {
	class := "5xx"
	switch {
	case status < 300:
		class = "2xx"
	case status < 400:
		class = "3xx"
	case status < 500:
		class = "4xx"
	}
	m.phpDuration.WithLabelValues(class).Observe(d.Seconds())
}

var (
	wsAccepted = prometheus.NewDesc("thinkgate_ws_connections_accepted_total", "WebSocket connections accepted.", nil, nil)
	wsFailed   = prometheus.NewDesc("thinkgate_ws_handshakes_failed_total", "Connections that did not complete the WebSocket handshake.", nil, nil)
	wsMessages = prometheus.NewDesc("thinkgate_ws_messages_received_total", "Messages received from clients (not counting heartbeat pings).", nil, nil)
	wsClosed   = prometheus.NewDesc("thinkgate_ws_closed_total", "Clients closed by thinkgate, by reason.", []string{"reason"}, nil)
	wsRejected = prometheus.NewDesc("thinkgate_ws_rejected_total", "Connections turned away with 503 at ws.max_connections.", nil, nil)
)

// wsCollector reads the transport's counters at scrape time.
type wsCollector struct{ stats func() websocket.Stats }

func (c *wsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- wsAccepted
	ch <- wsFailed
	ch <- wsMessages
	ch <- wsClosed
	ch <- wsRejected
}

func (c *wsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(wsAccepted, prometheus.CounterValue, float64(s.Accepted))
	ch <- prometheus.MustNewConstMetric(wsFailed, prometheus.CounterValue, float64(s.HandshakeFailed))
	ch <- prometheus.MustNewConstMetric(wsMessages, prometheus.CounterValue, float64(s.MessagesReceived))
	ch <- prometheus.MustNewConstMetric(wsRejected, prometheus.CounterValue, float64(s.RejectedFull))
	for reason, n := range map[string]uint64{"slow": s.ClosedSlow, "oversize": s.ClosedOversize, "idle": s.ClosedIdle, "protocol_error": s.ClosedProtocol} {
		ch <- prometheus.MustNewConstMetric(wsClosed, prometheus.CounterValue, float64(n), reason)
	}
}

var (
	phpWorkers = prometheus.NewDesc("thinkgate_php_workers", "PHP worker processes, by state.", []string{"state"}, nil)
	phpServed  = prometheus.NewDesc("thinkgate_php_requests_total", "Requests served by PHP workers.", nil, nil)
	phpCrashed = prometheus.NewDesc("thinkgate_php_worker_failures_total", "Requests that ended with a worker crash or timeout.", nil, nil)
	phpSpawned = prometheus.NewDesc("thinkgate_php_worker_starts_total", "PHP worker processes started (including replacements).", nil, nil)
)

// poolCollector reads the PHP pool's counters at scrape time.
type poolCollector struct{ stats func() phpworker.Stats }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- phpWorkers
	ch <- phpServed
	ch <- phpCrashed
	ch <- phpSpawned
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(phpWorkers, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(phpWorkers, prometheus.GaugeValue, float64(max(s.Workers-s.Idle, 0)), "busy")
	ch <- prometheus.MustNewConstMetric(phpServed, prometheus.CounterValue, float64(s.Served))
	ch <- prometheus.MustNewConstMetric(phpCrashed, prometheus.CounterValue, float64(s.Crashed))
	ch <- prometheus.MustNewConstMetric(phpSpawned, prometheus.CounterValue, float64(s.Spawned))
}
