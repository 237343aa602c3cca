package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/lessllm/lessllm/capture"
)

// CaptureCmd runs the capturing proxy until SIGTERM or SIGINT, then drains
// in-flight streams and seals the segments.
type CaptureCmd struct {
	Listen  string       `help:"Address to listen on; ':8000' binds every interface. Empty: the config's listen (default 127.0.0.1:8000)." default:"" env:"LESSLLM_LISTEN"`
	Dir     string       `help:"Directory for segments (overrides capture.dir)." default:"" env:"LESSLLM_CAPTURE_DIR" type:"path"`
	Node    string       `help:"Node name in segment names and records (overrides capture.node; default: host name)." default:"" env:"LESSLLM_NODE"`
	Log     logFlags     `embed:""`
	Profile profileFlags `embed:""`
	// A process that starts capture for itself (the Python package) holds
	// the write end of capture's stdin: when that process dies, however it
	// dies, the kernel closes the pipe and capture stops as on SIGTERM
	// instead of living on as an orphan.
	StopOnStdinClose bool `name:"stop-on-stdin-close" help:"Stop (drain, seal, exit) when standard input closes: for a parent process that owns this capture." default:"false"`
}

func (c *CaptureCmd) Run(env *Env, cfg *Config) error {
	stopProfile, err := c.Profile.start()
	if err != nil {
		return err
	}
	defer stopProfile()
	return runCapture(env, cfg, c.Listen, c.Dir, c.Node, c.Log, c.StopOnStdinClose)
}

// ServerCmd is capture with only a port to choose: `lessllm server --port 8000`.
type ServerCmd struct {
	Port int      `help:"Port to listen on (on the config's listen host, default 127.0.0.1). 0: the config's port." default:"0" env:"LESSLLM_PORT"`
	Dir  string   `help:"Directory for segments (overrides capture.dir)." default:"" env:"LESSLLM_CAPTURE_DIR" type:"path"`
	Log  logFlags `embed:""`
}

func (c *ServerCmd) Run(env *Env, cfg *Config) error {
	listen := ""
	if c.Port != 0 {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		listen = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	return runCapture(env, cfg, listen, c.Dir, "", c.Log, false)
}

// logFlags configure the structured log on stderr.
type logFlags struct {
	LogFormat string `help:"Log format on stderr." enum:"text,json" default:"text" env:"LESSLLM_LOG_FORMAT"`
	LogLevel  string `help:"Lowest level logged; warn keeps only problems; debug adds the access log with route and connection timings. Empty: the config's logging.level (default info)." enum:",debug,info,warn,error" default:"" env:"LESSLLM_LOG_LEVEL"`
	AccessLog bool   `name:"access-log" help:"Log one line per exchange at info level (logging.access_log; off by default: the segments record every exchange)." default:"false" env:"LESSLLM_ACCESS_LOG"`
}

// logger logs at the flag's level, else at configured (logging.level).
func (l logFlags) logger(env *Env, configured string) *slog.Logger {
	name := l.LogLevel
	if name == "" {
		name = configured
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(name)) // kong's enum and the config's validation checked it
	opts := &slog.HandlerOptions{Level: level}
	if l.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

func runCapture(env *Env, cfg *Config, listen, dir, node string, logf logFlags, stopOnStdinClose bool) error {
	if listen != "" {
		cfg.Listen = listen
	}
	if dir != "" {
		cfg.Capture.Dir = dir
	}
	if node != "" {
		cfg.Capture.Node = node
	}
	if logf.AccessLog {
		cfg.Logging.AccessLog = true
	}
	log := logf.logger(env, cfg.Logging.Level)
	if cfg.Path != "" {
		log.Info("config loaded", "file", cfg.Path)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// A proxy must not die because whoever read its log went away (a
	// `| tee` that ended, the owner of --stop-on-stdin-close killed): with
	// SIGPIPE ignored, a write to a closed stdout or stderr fails and the
	// log line is lost, while the exchanges in flight finish and the
	// segments are sealed.
	signal.Ignore(syscall.SIGPIPE)
	if stopOnStdinClose {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			io.Copy(io.Discard, env.Stdin) // returns at EOF: the owner is gone
			log.Info("standard input closed (the owning process ended): shutting down")
			cancel()
		}()
	}
	inst, err := capture.Start(cfg.File, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "lessllm capture on %s (OpenAI SDK base_url %s/v1, Anthropic SDK base_url %s)\n", inst.URL, inst.URL, inst.URL)
	<-ctx.Done()
	stop()
	log.Info("shutting down: draining in-flight exchanges", "grace", cfg.Capture.ShutdownGrace)
	if err := inst.Shutdown(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("segments sealed; bye")
	return nil
}
