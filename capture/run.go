package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
)

// Instance is a running capture proxy: listener, HTTP server, Server and
// segment recorder. It is what `lessllm capture` runs, and what a Go
// program embeds (what Python's configure() and get_proxy_url() start).
type Instance struct {
	// URL is the proxy's base URL, e.g. http://127.0.0.1:8000. OpenAI SDKs
	// take URL+"/v1", Anthropic SDKs take URL.
	URL string

	cfg      *config.File
	server   *Server
	http     *http.Server
	recorder *Recorder
	log      *slog.Logger
	logs     *asyncHandler
	served   chan error
}

// Start opens the segment writer (repairing leftovers of this node),
// listens on cfg.Listen and serves until Shutdown. logger nil uses
// slog.Default().
func Start(cfg *config.File, logger *slog.Logger) (*Instance, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logs := newAsyncHandler(logger.Handler(), 8192)
	logger = slog.New(logs)
	reg := prometheus.NewRegistry()
	// The runtime's memory classes and goroutine stack starting size say
	// where a process's RSS goes (free but retained heap, fragmentation,
	// stacks, metadata), which go_memstats_* alone cannot; BENCHMARKS.md §4
	// reads them per stream.
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsMemory,
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/stack/starting-size:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// logging.enabled: false makes a plain proxy: connectivity and model
	// aliases, nothing recorded (the segment writer is not even opened).
	var rec *Recorder
	node := cfg.Capture.Node
	if cfg.Logging.Enabled == nil || *cfg.Logging.Enabled {
		var err error
		rec, err = OpenRecorder(format.WriterOptions{
			Dir: cfg.Capture.Dir, Node: cfg.Capture.Node,
			MaxSegmentBytes: int64(cfg.Capture.SegmentMaxBytes), MaxSegmentAge: cfg.Capture.SegmentMaxAge,
			FlushInterval: cfg.Capture.FlushInterval,
		}, cfg.Capture.QueueSize, logger)
		if err != nil {
			logs.close()
			return nil, err
		}
		reg.MustRegister(rec.Collectors()...)
		node = rec.w.Node()
	}
	transports, err := NewTransports(cfg)
	if err != nil {
		rec.Close()
		logs.close()
		return nil, err
	}
	for _, a := range cfg.AliasesWithoutKey() {
		m := cfg.Models[a]
		logger.Warn("model alias has no API key: calls to it that bring no key of their own get a 401",
			"alias", a, "provider", m.Provider, "unset", cfg.Providers[m.Provider].MissingKey())
	}
	srv := &Server{Config: cfg, Transport: transports, Logger: logger, Metrics: NewMetrics(reg), Node: node,
		AccessLog: cfg.Logging.AccessLog || logger.Enabled(context.Background(), slog.LevelDebug)}
	if rec != nil {
		srv.Sink = rec
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if rec != nil && !rec.Healthy() {
			http.Error(w, "capture unhealthy: records are not being written", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", srv)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		rec.Close()
		logs.close()
		return nil, err
	}
	inst := &Instance{
		URL: "http://" + ln.Addr().String(), cfg: cfg, server: srv, recorder: rec, log: logger, logs: logs,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: cfg.Capture.ReadHeaderTimeout, // slowloris
			IdleTimeout:       5 * time.Minute,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		served: make(chan error, 1),
	}
	go func() { inst.served <- inst.http.Serve(ln) }()
	if rec == nil {
		logger.Info("proxy listening; logging.enabled is false: nothing is recorded", "url", inst.URL)
	} else {
		logger.Info("capture listening", "url", inst.URL, "dir", cfg.Capture.Dir, "node", srv.Node)
	}
	return inst, nil
}

// Shutdown stops accepting connections, lets in-flight exchanges finish
// for up to the configured grace period, closes what is left, then drains
// the record queue and seals the segments.
func (i *Instance) Shutdown(ctx context.Context) error {
	grace, cancel := context.WithTimeout(ctx, i.cfg.Capture.ShutdownGrace)
	defer cancel()
	err := i.http.Shutdown(grace) // waits for handlers to return
	if err != nil {
		i.log.Warn("grace period over: closing streams still in flight", "grace", i.cfg.Capture.ShutdownGrace)
		i.server.forced.Store(true)
		err = i.http.Close()
	}
	i.server.Wait() // a closed connection's handler may still be recording
	if serr := <-i.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if cerr := i.recorder.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("sealing segments: %w", cerr))
	}
	i.logs.close()
	return err
}
