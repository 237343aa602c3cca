package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/lessllm/lessllm/format/wire/apitest"
)

// SimulateCmd serves the simulated OpenAI + Anthropic upstream.
type SimulateCmd struct {
	Listen       string        `help:"Address to listen on." default:"127.0.0.1:9100" env:"LESSLLM_SIM_LISTEN"`
	TTFT         time.Duration `name:"ttft" help:"Delay before the first generated token (0: none)." default:"150ms" env:"LESSLLM_SIM_TTFT"`
	TPOT         time.Duration `name:"tpot" help:"Time per further output token (0: none)." default:"20ms" env:"LESSLLM_SIM_TPOT"`
	Jitter       float64       `help:"Random ± fraction applied to every delay (0.1 = ±10%)." default:"0" env:"LESSLLM_SIM_JITTER"`
	OutputTokens int           `help:"Output tokens per response (capped by the request's max_tokens)." default:"40" env:"LESSLLM_SIM_OUTPUT_TOKENS"`
	NoCache      bool          `help:"Disable the simulated prompt caching." default:"false" env:"LESSLLM_SIM_NO_CACHE"`
	Compress     []string      `help:"Content codings answers are compressed with when the client accepts one, in order of preference (br, gzip, zstd, deflate); 'none' never compresses." default:"br,gzip,zstd,deflate" env:"LESSLLM_SIM_COMPRESS"`
}

func (c *SimulateCmd) Run(env *Env) error {
	encodings := []string{}
	for _, e := range c.Compress {
		switch e {
		case "none":
		case "br", "gzip", "zstd", "deflate":
			encodings = append(encodings, e)
		default:
			return fmt.Errorf("--compress: unknown coding %q (expected br, gzip, zstd, deflate or none)", e)
		}
	}
	sim := apitest.New(apitest.Options{TTFT: noneIfZero(c.TTFT), TPOT: noneIfZero(c.TPOT), Jitter: c.Jitter,
		OutputTokens: c.OutputTokens, NoCache: c.NoCache, Encodings: encodings})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintf(env.Stdout, "lessllm simulate on http://%s (ttft %s, tpot %s, %d output tokens)\n", ln.Addr(), c.TTFT, c.TPOT, c.OutputTokens)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// noneIfZero maps the command line's "0: no delay" onto the simulator's
// "negative: no delay" (its zero value means the default).
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
