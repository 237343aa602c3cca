package capture

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus metrics (ARCHITECTURE.md §4). Each Server
// registers its own on the registry it is given, so several servers (tests,
// embedding programs) never collide.
type Metrics struct {
	requests       *prometheus.CounterVec
	requestBytes   prometheus.Counter
	responseBytes  prometheus.Counter
	inflight       prometheus.Gauge
	upstreamErrors *prometheus.CounterVec
	duration       *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them on reg (nil: a fresh
// registry nobody scrapes).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lessllm_requests_total",
			Help: "Proxied requests by provider and response status (0: no response)."}, []string{"provider", "status"}),
		requestBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "lessllm_request_bytes_total",
			Help: "Request body bytes received from clients."}),
		responseBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "lessllm_response_bytes_total",
			Help: "Response body bytes relayed to clients."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lessllm_inflight_requests",
			Help: "Requests being proxied now."}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lessllm_upstream_errors_total",
			Help: "Exchanges that ended in an error, by kind (see format/SPEC.md §4)."}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lessllm_exchange_duration_seconds",
			Help: "Request received to last byte relayed.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}, []string{"provider"}),
	}
	reg.MustRegister(m.requests, m.requestBytes, m.responseBytes, m.inflight, m.upstreamErrors, m.duration)
	return m
}

func (m *Metrics) observe(provider string, status int, reqBytes, respBytes int64, seconds float64, errKind string) {
	m.requests.WithLabelValues(provider, strconv.Itoa(status)).Inc()
	m.requestBytes.Add(float64(reqBytes))
	m.responseBytes.Add(float64(respBytes))
	m.duration.WithLabelValues(provider).Observe(seconds)
	if errKind != "" {
		m.upstreamErrors.WithLabelValues(errKind).Inc()
	}
}
