package capture

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3/option"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire/apitest"
)

// Keys used by tests; the secret-scan tests grep for every one of them.
const (
	clientOpenAIKey    = "sk-client-openai-4f8a1c9e2b7d6053a1e8"
	clientAnthropicKey = "sk-ant-client-9d2e7b4c1a8f6e3d0b5c"
	configOpenAIKey    = "sk-configured-openai-7b3e9a1d5c2f8e4a6d0c"
	configAnthropicKey = "sk-ant-configured-2c8f4e6a0d9b3e7c1f5a"
)

var testKeys = []string{clientOpenAIKey, clientAnthropicKey, configOpenAIKey, configAnthropicKey}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a real capture Instance (listener, recorder, segments on
// disk) in front of the simulator, both on loopback.
type harness struct {
	sim  *apitest.Simulator
	up   *httptest.Server
	cfg  *config.File
	inst *Instance
	logs *syncBuffer
	dir  string
}

func newHarness(t *testing.T, simOpts apitest.Options, mutate func(*config.File)) *harness {
	t.Helper()
	h := &harness{sim: apitest.New(simOpts), logs: &syncBuffer{}, dir: t.TempDir()}
	h.up = httptest.NewServer(h.sim)
	t.Cleanup(h.up.Close)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Capture.Dir = h.dir
	cfg.Capture.Node = "test"
	cfg.Capture.FlushInterval = 20 * time.Millisecond
	cfg.Capture.ShutdownGrace = 10 * time.Second
	cfg.Logging.AccessLog = true // the secret scans read the access lines too
	cfg.Providers[config.OpenAI] = &config.Provider{Type: config.OpenAI, BaseURL: h.up.URL + "/v1", APIKey: configOpenAIKey}
	cfg.Providers[config.Anthropic] = &config.Provider{Type: config.Anthropic, BaseURL: h.up.URL, APIKey: configAnthropicKey}
	if mutate != nil {
		mutate(cfg)
	}
	h.cfg = cfg
	inst, err := Start(cfg, slog.New(slog.NewJSONHandler(h.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.inst = inst
	t.Cleanup(func() { h.shutdown(t) })
	return h
}

func (h *harness) shutdown(t *testing.T) {
	if h.inst == nil {
		return
	}
	if err := h.inst.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	h.inst = nil
}

// records shuts the proxy down (sealing its segments) and returns every
// exchange recorded, in the order the requests arrived. (Records are
// written when exchanges end, and a client can send its next request
// before the previous handler has finished recording.)
func (h *harness) records(t *testing.T) []*format.Exchange {
	t.Helper()
	h.shutdown(t)
	segs, err := format.ListSegments([]string{h.dir}, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []*format.Exchange
	for _, s := range segs {
		if !s.Sealed {
			t.Fatalf("segment %s not sealed after shutdown", s.Path)
		}
		r, err := format.Open(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			ex, err := format.DecodeExchange(r.Record())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ex)
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		r.Close()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartNS < out[j].StartNS })
	return out
}

// byPath finds the one record for a path (and optional query substring).
func byPath(t *testing.T, recs []*format.Exchange, path string) *format.Exchange {
	t.Helper()
	var found *format.Exchange
	for _, r := range recs {
		if r.Request.Path == path {
			if found != nil {
				t.Fatalf("more than one record for %s", path)
			}
			found = r
		}
	}
	if found == nil {
		t.Fatalf("no record for %s among %d", path, len(recs))
	}
	return found
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// openAll returns the decompressed NDJSON of a segment.
func openAll(path string) ([]byte, error) {
	r, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var b bytes.Buffer
	for r.Next() {
		b.Write(r.Record())
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func withHeader(k, v string) option.RequestOption { return option.WithHeader(k, v) }

// metrics fetches /metrics.
func (h *harness) metrics(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(h.inst.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// scanForSecrets greps every byte under the capture directory (also
// decompressed: compression could hide a key), the logs and the given
// /metrics text for each secret: there must be none. Call it after
// h.records, which seals the segments.
func (h *harness) scanForSecrets(t *testing.T, metrics []byte, secrets ...string) {
	t.Helper()
	scan := func(what string, data []byte) {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("secret %q found in %s", s, what)
			}
		}
	}
	n := 0
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			scan(p, data)
			if r, err := openAll(p); err == nil {
				scan(p+" (decompressed)", r)
			}
			n++
		}
		return nil
	})
	scan("logs", []byte(h.logs.String()))
	scan("/metrics", metrics)
	if n == 0 || !strings.Contains(h.logs.String(), `"msg":"exchange"`) {
		t.Fatal("nothing was scanned")
	}
}

// messagesBothWays calls model with the Anthropic SDK through capture,
// not streamed and streamed, and checks both answers are want.
func messagesBothWays(t *testing.T, h *harness, model, want string) {
	t.Helper()
	ac := anthropicClient(h)
	p := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello"))}}
	m, err := ac.Messages.New(context.Background(), p)
	if err != nil || len(m.Content) == 0 || m.Content[0].Text != want {
		t.Fatalf("%v %+v", err, m)
	}
	s := ac.Messages.NewStreaming(context.Background(), p)
	var text strings.Builder
	for s.Next() {
		if d := s.Current().Delta; d.Type == "text_delta" {
			text.WriteString(d.Text)
		}
	}
	if err := s.Err(); err != nil || text.String() != want {
		t.Fatalf("streamed %q, %v", text.String(), err)
	}
}
