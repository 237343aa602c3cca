package main

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/wire"
)

func body(model string, stream bool) string {
	if model == "" {
		model = "gpt-4o-mini"
	}
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in twenty words."}]}`, model, stream)
}

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
}

// messagesBody is the Anthropic Messages request the alias "claude" sends
// upstream for body("claude", stream): the system prompt in its own field,
// the translation's default max_tokens.
func messagesBody(stream bool) string {
	return fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":%d,"stream":%v,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Say hello in twenty words."}]}`,
		wire.DefaultAnthropicMaxTokens, stream)
}

func request(t *target, stream bool, extra http.Header) *http.Request {
	path, b := "/v1/chat/completions", body(t.model, stream)
	if t.messages {
		path, b = "/v1/messages", messagesBody(stream)
	}
	req, _ := http.NewRequest("POST", t.url+path, strings.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if t.messages {
		req.Header.Set("X-Api-Key", "sk-ant-bench")
		req.Header.Set("Anthropic-Version", "2023-06-01")
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	return req
}

// call sends one chat request and reads the whole answer; an answer that
// is not a 200 or a stream without its [DONE] is an error (incomplete).
func call(c *http.Client, t *target, stream bool) error {
	resp, err := c.Do(request(t, stream, nil))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || (stream && !bytes.HasSuffix(b, []byte("[DONE]\n\n"))) {
		return fmt.Errorf("status %d, incomplete body %.80q", resp.StatusCode, b)
	}
	return nil
}

// latency: sequential requests at concurrency 1, each target over its own
// kept-alive connection, the targets taking turns request by request — so
// a moment of noise on the shared machine falls on all of them alike
// rather than on whichever target's block it hits. The turn order rotates
// by one every request: in a fixed order each target always ran right
// after the same other one, and that position alone moved its p50 — two
// captures of the same binary side by side differed by 25 µs at c=1,
// the second the faster (it found the caches warm from the first).
func (b *bench) latency(targets []*target, stream bool, n int) (p50, p99 []time.Duration) {
	clients := make([]*http.Client, len(targets))
	d := make([][]time.Duration, len(targets))
	for i, t := range targets {
		clients[i] = newClient(1)
		for j := 0; j < 50; j++ { // warm up connections and caches
			call(clients[i], t, stream)
		}
	}
	for j := 0; j < n; j++ {
		for k := range targets {
			i := (j + k) % len(targets)
			t := targets[i]
			start := time.Now()
			if err := call(clients[i], t, stream); err != nil {
				log.Fatalf("%s: %v", t.name, err)
			}
			d[i] = append(d[i], time.Since(start))
		}
	}
	for i := range targets {
		slices.Sort(d[i])
		p50 = append(p50, d[i][n/2])
		p99 = append(p99, d[i][n*99/100])
	}
	return p50, p99
}

// throughput: conc workers for dur per target; returns requests/s, the
// target process's CPU time per exchange in µs (0 for direct) and the
// count of incomplete responses. The targets take turns in slices of
// 250 ms, for the same reason as in latency.
func (b *bench) throughput(targets []*target, stream bool, conc int, dur time.Duration) (rps, cpuPer []float64, incomplete []int64) {
	const slice = 250 * time.Millisecond
	clients := make([]*http.Client, len(targets))
	served := make([]int64, len(targets))
	incomplete = make([]int64, len(targets))
	elapsed := make([]time.Duration, len(targets))
	cpu := make([]time.Duration, len(targets))
	for i := range targets {
		clients[i] = newClient(conc)
	}
	for done := time.Duration(0); done < dur; done += slice {
		for i, t := range targets {
			var n, failed atomic.Int64
			cpu0 := procCPU(t.pid)
			start := time.Now()
			deadline := start.Add(slice)
			var wg sync.WaitGroup
			for w := 0; w < conc; w++ {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						if err := call(clients[i], t, stream); err != nil {
							if failed.Add(1) == 1 {
								log.Printf("%s c=%d: %v", t.name, conc, err)
							}
							continue
						}
						n.Add(1)
					}
				})
			}
			wg.Wait()
			elapsed[i] += time.Since(start)
			served[i] += n.Load()
			incomplete[i] += failed.Load()
			cpu[i] += procCPU(t.pid) - cpu0
		}
	}
	for i, t := range targets {
		rps = append(rps, float64(served[i])/elapsed[i].Seconds())
		per := 0.0
		if t.pid != 0 && served[i] > 0 {
			per = float64(cpu[i].Microseconds()) / float64(served[i])
		}
		cpuPer = append(cpuPer, per)
		clients[i].CloseIdleConnections()
	}
	return rps, cpuPer, incomplete
}

// procCPU is the utime+stime of a process and its children (nginx's
// workers are children of the process started), from /proc (Linux).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ppid, _ := strconv.Atoi(f[1])
		if p != pid && ppid != pid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * (time.Second / 100) // USER_HZ = 100 on Linux
	}
	return total
}

// procStatus reads a "VmRSS"/"VmHWM" line of /proc/PID/status in bytes.
func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`(?m)^` + key + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

type result struct {
	p50, p99   []time.Duration
	rps        map[int][]float64 // by concurrency
	cpu        []float64         // µs per exchange at concurrency 16
	incomplete int64
}

// concurrencies of the throughput runs; the last stands for saturation
// (far more clients than two cores can serve at once).
var concurrencies = []int{16, 256, 1024}

// overhead measures every target at concurrency 1 (latency) and at each of
// concurrencies (throughput, CPU), for both kinds of call.
func (b *bench) overhead(upstream string, capture *target, n int, dur time.Duration, rounds int) string {
	targets := []*target{{name: "direct", url: upstream}, b.startBare(upstream), capture,
		{name: "capture + alias (OpenAI → Anthropic, translated)", url: capture.url, pid: capture.pid, model: "claude"}}
	var notes []string
	if t := b.startNginx(upstream); t != nil {
		targets = append(targets, t)
	} else {
		notes = append(notes, "nginx: not installed (`apt-get install nginx-light`), not measured.")
	}
	if t, why := b.startPortkey(upstream); t != nil {
		targets = append(targets, t)
		if t.noStream {
			notes = append(notes, t.name+": streamed calls fail on this machine — the gateway answers `{\"status\":\"failure\",\"message\":\"Something went wrong\"}` and logs `TypeError: immutable` from undici's `Headers.append` in its header handling — so it is in the non-streamed table only.")
		}
	} else {
		notes = append(notes, "Portkey gateway: not measured — "+why+".")
	}
	var out strings.Builder
	for _, kind := range []string{"non-streamed", "streamed"} {
		stream := kind == "streamed"
		var ts []*target
		for _, t := range targets {
			if !(stream && t.noStream) {
				ts = append(ts, t)
			}
		}
		res := map[string]*result{}
		for _, t := range ts {
			res[t.name] = &result{rps: map[int][]float64{}}
		}
		for round := 0; round < rounds; round++ {
			p50, p99 := b.latency(ts, stream, n)
			for i, t := range ts {
				res[t.name].p50 = append(res[t.name].p50, p50[i])
				res[t.name].p99 = append(res[t.name].p99, p99[i])
			}
			for _, c := range concurrencies {
				rps, cpu, bad := b.throughput(ts, stream, c, dur)
				for i, t := range ts {
					r := res[t.name]
					r.rps[c] = append(r.rps[c], rps[i])
					r.incomplete += bad[i]
					if c == 16 {
						r.cpu = append(r.cpu, cpu[i])
					}
					log.Printf("%s %s round %d c=%d: %.0f req/s, %.1f µs CPU/exchange, %d incomplete", kind, t.name, round, c, rps[i], cpu[i], bad[i])
				}
			}
		}
		writeOverhead(&out, kind, ts, res, n, dur, rounds)
	}
	for _, n := range notes {
		fmt.Fprintf(&out, "- %s\n", n)
	}
	out.WriteString("\n")
	return out.String()
}

func writeOverhead(w io.Writer, kind string, targets []*target, res map[string]*result, n int, dur time.Duration, rounds int) {
	direct, bare := res["direct"], res["bare"]
	d50, d99 := median(direct.p50), median(direct.p99)
	bareAdded := median(bare.p50) - d50
	var nginxAdded time.Duration
	for _, t := range targets {
		if strings.HasPrefix(t.name, "nginx") {
			nginxAdded = median(res[t.name].p50) - d50
		}
	}
	fmt.Fprintf(w, "### Overhead, %s chat completions (20 output tokens, upstream answers at once)\n\n", kind)
	fmt.Fprintf(w, "Median of %d rounds. Latency: %d sequential calls per target and round at concurrency 1, targets taking turns call by call in a rotating order. Throughput: %v per target and concurrency and round, in 250 ms turns. CPU: the target process's user+system time per exchange at c=16. Incomplete: responses that were not a 200 with the whole body (a stream without its `[DONE]`).\n\n", rounds, n, dur)
	fmt.Fprintf(w, "| target | p50 (c=1) | added p50 | added p99 | added p50 ÷ bare's | ÷ nginx's | req/s c=16 | ÷ bare | req/s c=256 | ÷ bare | req/s c=1024 | ÷ bare | CPU per exchange | incomplete |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range targets {
		r := res[t.name]
		p50, p99 := median(r.p50), median(r.p99)
		added, added99 := p50-d50, p99-d99
		ratio, ratioN, cpu := "-", "-", "-"
		if t.name != "direct" && bareAdded > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(added)/float64(bareAdded))
		}
		if t.name != "direct" && nginxAdded > 0 {
			ratioN = fmt.Sprintf("%.2f×", float64(added)/float64(nginxAdded))
		}
		if t.pid != 0 {
			cpu = fmt.Sprintf("%.0f µs", medianF(r.cpu))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |", t.name, us(p50), us(added), us(added99), ratio, ratioN)
		for _, c := range concurrencies {
			fmt.Fprintf(w, " %.0f | %.2f |", medianF(r.rps[c]), medianF(r.rps[c])/medianF(bare.rps[c]))
		}
		fmt.Fprintf(w, " %s | %d |\n", cpu, r.incomplete)
	}
	fmt.Fprintln(w)
}

// captureCost: what capture writes per exchange (from the segments the
// overhead runs wrote, sealed or not) and the writer's share of the CPU:
// capture with recording on vs the same process with logging.enabled:
// false, at c=16, taking turns.
func (b *bench) captureCost(upstream string, capture *target, dur time.Duration, rounds int) string {
	off := b.startCapture(upstream, false)
	ts := []*target{capture, off}
	var on, none []float64
	for range rounds {
		for _, stream := range []bool{false, true} {
			_, cpu, _ := b.throughput(ts, stream, 16, dur)
			on, none = append(on, cpu[0]), append(none, cpu[1])
		}
	}
	var records, disk, content int64
	segs, _ := format.ListSegments([]string{capture.dir}, true)
	for _, s := range segs {
		disk += s.Size
		r, err := format.Open(s.Path)
		if err != nil {
			continue
		}
		for r.Next() {
			records++
			content += int64(len(r.Record())) + 1
		}
		r.Close()
	}
	var out strings.Builder
	fmt.Fprintf(&out, "### Capture cost\n\n")
	if records > 0 {
		fmt.Fprintf(&out, "From the %d exchanges the overhead runs recorded (half streamed with 20 tokens, half not; %d segment file(s)):\n\n", records, len(segs))
		fmt.Fprintf(&out, "| bytes on disk per exchange | NDJSON bytes per exchange | compression ratio |\n|---|---|---|\n| %.0f | %.0f | %.1f× |\n\n",
			float64(disk)/float64(records), float64(content)/float64(records), float64(content)/float64(disk))
	}
	m, o := medianF(on), medianF(none)
	fmt.Fprintf(&out, "Writer CPU share (c=16, both kinds of call, median of %d runs): capture with recording %.0f µs of CPU per exchange, the same proxy with `logging.enabled: false` %.0f µs — recording (building the record, encoding, compressing, writing) is %.0f µs, **%.0f%%** of capture's CPU.\n\n",
		len(on), m, o, m-o, 100*(m-o)/m)
	return out.String()
}

// fidelityResult: per stream, the client-side time to the first token and
// the gaps between tokens; per token, the delivery delay — upstream write
// (the simulator stamps each token with its send time: X-Sim-Stamp) to
// client read.
type fidelityResult struct {
	ttft, gaps, delay []time.Duration
	incomplete        int
	runs              [][]time.Duration // fidelitySection: delay run by run (delay is their concatenation)
}

func (b *bench) fidelity(t *target, n int) fidelityResult {
	var mu sync.Mutex
	var res fidelityResult
	var wg sync.WaitGroup
	c := newClient(n)
	stamp := http.Header{"X-Sim-Stamp": {"1"}}
	for i := 0; i < n; i++ {
		wg.Go(func() {
			start := time.Now()
			resp, err := c.Do(request(t, true, stamp))
			if err != nil {
				mu.Lock()
				res.incomplete++
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var last time.Time
			done := false
			for sc.Scan() {
				line := sc.Text()
				if line == "data: [DONE]" || line == "event: message_stop" {
					done = true
				}
				m := stampRE.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				now := time.Now()
				sent, _ := strconv.ParseInt(m[1], 10, 64)
				mu.Lock()
				if last.IsZero() {
					res.ttft = append(res.ttft, now.Sub(start))
				} else {
					res.gaps = append(res.gaps, now.Sub(last))
				}
				res.delay = append(res.delay, now.Sub(time.Unix(0, sent)))
				mu.Unlock()
				last = now
			}
			if !done {
				mu.Lock()
				res.incomplete++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	return res
}

// stampRE finds a token's send time in a streamed line (X-Sim-Stamp): in
// a Chat Completions chunk or an Anthropic text delta.
var stampRE = regexp.MustCompile(`"(?:content|text)":" @(\d+)"`)

// fidelitySection streams paced answers (first token after 150 ms, one
// every 20 ms) through each target, 1 and 500 at a time.
func (b *bench) fidelitySection(rounds int) string {
	paced := b.startSimulator("--ttft", "150ms", "--tpot", "20ms", "--output-tokens", "40", "--no-cache")
	capture := b.startCapture(paced, true)
	// The alias reads the upstream's Anthropic stream, not its Chat
	// Completions stream: direct to that one too, the alias's own baseline.
	directMessages := &target{name: "direct, Anthropic Messages (the alias's upstream)", url: paced, messages: true}
	alias := &target{name: "capture + alias (OpenAI → Anthropic, translated)", url: capture.url, pid: capture.pid, model: "claude"}
	targets := []*target{{name: "direct", url: paced}, directMessages, b.startBare(paced), capture, alias}
	if t := b.startNginx(paced); t != nil {
		targets = append(targets, t)
	}
	var out strings.Builder
	out.WriteString("### Streaming fidelity\n\nUpstream: first token after 150 ms, then one every 20 ms, 40 tokens. *Delivery delay* is, per token, upstream write → client read (the simulator stamps each token with its send time), so it isolates what each hop adds; *added* is over direct (Chat Completions). The alias reads the simulator's Anthropic stream, whose own delays differ: its row below the table is over direct to that stream.\n\n")
	for _, n := range []int{1, 500} {
		// A first pass warms connection pools, as in production; then the
		// targets take turns.
		for _, t := range targets {
			b.fidelity(t, min(n, 50))
		}
		res := make([]fidelityResult, len(targets))
		reps := rounds
		if n == 1 {
			// One stream is 40 tokens: 96 runs give a p99 of 3,840
			// samples (its 39th-worst), which a single late wake-up
			// does not move; the alias's and capture's differ by less
			// than a p99 of 1,920 samples moved from run to run.
			reps = rounds * 32
		}
		for rep := range reps {
			for k := range targets {
				i := (k + rep) % len(targets) // rotating turns, as for latency
				t := targets[i]
				r := b.fidelity(t, n)
				res[i].ttft = append(res[i].ttft, r.ttft...)
				res[i].gaps = append(res[i].gaps, r.gaps...)
				res[i].incomplete += r.incomplete
				res[i].runs = append(res[i].runs, r.delay)
			}
		}
		for i := range res {
			res[i].delay = slices.Concat(res[i].runs...)
		}
		fmt.Fprintf(&out, "**%d concurrent stream%s** (%d runs per target):\n\n", n, map[bool]string{true: "", false: "s"}[n == 1], reps)
		out.WriteString("| target | client TTFT p50 | TTFT added | delivery delay p50 | p99 | max | added p50 | added p99 | added max | incomplete |\n|---|---|---|---|---|---|---|---|---|---|\n")
		base, d50, d99, dmax := median(res[0].ttft), median(res[0].delay), pct(res[0].delay, 99), pct(res[0].delay, 100)
		for i, t := range targets {
			f := res[i]
			fmt.Fprintf(&out, "| %s | %.1f ms | %+.2f ms | %.3f ms | %.3f ms | %.3f ms | %+.3f ms | %+.3f ms | %+.3f ms | %d |\n", t.name,
				ms(median(f.ttft)), ms(median(f.ttft)-base), ms(median(f.delay)), ms(pct(f.delay, 99)), ms(pct(f.delay, 100)),
				ms(median(f.delay)-d50), ms(pct(f.delay, 99)-d99), ms(pct(f.delay, 100)-dmax), f.incomplete)
		}
		out.WriteString("\n")
		a, m, c := res[slices.Index(targets, alias)], res[slices.Index(targets, directMessages)], res[slices.Index(targets, capture)]
		fmt.Fprintf(&out, "The alias over direct to its own upstream (the Anthropic stream): added p50 **%+.3f ms**, p99 **%+.3f ms**, max %+.3f ms.\n\n",
			ms(median(a.delay)-median(m.delay)), ms(pct(a.delay, 99)-pct(m.delay, 99)), ms(pct(a.delay, 100)-pct(m.delay, 100)))
		if n == 1 { // (at 500 streams a run is all of them: too few runs to resample)
			d, lo, hi := p99Difference(a.runs, c.runs)
			fmt.Fprintf(&out, "The alias's delivery-delay p99 minus capture's: **%+.3f ms** (95%% interval %+.3f … %+.3f ms: %d resamples of each target's runs).\n\n",
				ms(d), ms(lo), ms(hi), bootstrapResamples)
		}
		if n == 500 {
			out.WriteString(b.tracedFidelity(paced, n, rounds, d99))
		}
	}
	return out.String()
}

// bootstrapResamples is how many times p99Difference resamples.
const bootstrapResamples = 2000

// p99Difference is the p99 of a's samples minus b's, and a 95% interval
// for it: a bootstrap that resamples whole runs (a run's tokens share its
// connection and its moment, so they are not independent samples), with a
// fixed seed, so one set of runs always gives the same interval.
func p99Difference(a, b [][]time.Duration) (diff, lo, hi time.Duration) {
	flat := func(runs [][]time.Duration) []time.Duration { return slices.Concat(runs...) }
	diff = pct(flat(a), 99) - pct(flat(b), 99)
	rng := rand.New(rand.NewPCG(1, 2))
	resample := func(runs [][]time.Duration) []time.Duration {
		var out []time.Duration
		for range runs {
			out = append(out, runs[rng.IntN(len(runs))]...)
		}
		return out
	}
	diffs := make([]time.Duration, bootstrapResamples)
	for i := range diffs {
		diffs[i] = pct(resample(a), 99) - pct(resample(b), 99)
	}
	slices.Sort(diffs)
	return diff, diffs[len(diffs)*25/1000], diffs[len(diffs)*975/1000]
}

// tracedFidelity runs n streams through a capture that writes a Go
// execution trace (--trace; tracing slows it, so these are runs of their
// own, after the measured ones) and reports where its goroutines' time went
// while the streams were open: as capture runs, with a memory limit in
// place of GOGC's pacing, and with the collector off (GOGC=off), which
// bounds what any memory limit or GC tuning could change.
// Each is run rounds times, each time by a new process; the row is the
// round with the median delivery p99. directP99 is the direct target's
// delivery-delay p99 of the measured runs.
func (b *bench) tracedFidelity(upstream string, n, rounds int, directP99 time.Duration) string {
	var out strings.Builder
	fmt.Fprintf(&out, "**Where capture's time goes at %d streams**: runs through a capture started with `--trace`, after the measured ones (tracing slows it), over the time the streams were open; as capture runs, with a memory limit in place of the collector's pacing (the collector runs only when the heap nears 256 MiB), and with the collector off. Of %d rounds each, the one with the median delivery p99.\n\n", n, rounds)
	out.WriteString("| traced run | its delivery delay p99 | over direct's above | capture's CPU (cores busy, mean) | of it, recording (record, encode, compress, write) | relaying goroutines' wait for a CPU (runnable → running) p50 | p99 | max | GC cycles | stop-the-world total | max | longest mark assist | write/read syscalls p99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range []struct {
		name string
		env  []string
	}{
		{"as capture runs (GOGC=100)", nil},
		{"a memory limit instead (GOGC=off GOMEMLIMIT=256MiB)", []string{"GOGC=off", "GOMEMLIMIT=256MiB"}},
		{"collector off (GOGC=off)", []string{"GOGC=off"}},
	} {
		env := run.env
		type traced struct {
			p99 time.Duration
			s   traceSummary
		}
		var got []traced
		for range rounds {
			path := filepath.Join(b.tempDir(), "capture.trace")
			t := b.startCaptureEnv(env, upstream, true, "--trace", path)
			b.fidelity(t, min(n, 50))
			r := b.fidelity(t, n)
			b.stop(t)
			// The streams' window: while capture holds at least two
			// goroutines a stream (its handler and the upstream
			// connection's reader).
			s, err := summarizeTrace(path, 2*n)
			if err != nil {
				log.Printf("fidelity: %s: the trace could not be summarised: %v", run.name, err)
				continue
			}
			got = append(got, traced{pct(r.delay, 99), s})
		}
		if len(got) == 0 {
			fmt.Fprintf(&out, "| %s | no trace could be summarised |\n", run.name)
			continue
		}
		slices.SortFunc(got, func(a, b traced) int { return cmp.Compare(a.p99, b.p99) })
		med := got[len(got)/2]
		s, p99 := med.s, med.p99
		fmt.Fprintf(&out, "| %s | %.3f ms | %+.3f ms | %.2f | %.2f | %.3f ms | %.3f ms | %.3f ms | %d | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n",
			run.name, ms(p99), ms(p99-directP99), s.busy, s.recording, ms(s.wait50), ms(s.wait99), ms(s.waitMax),
			s.gcCycles, ms(s.stw), ms(s.stwMax), ms(s.assistMax), ms(s.syscall99))
	}
	out.WriteString("\n")
	return out.String()
}

// memorySection holds n slow streams open through capture and through the
// bare proxy at once and reads each process's RSS: peak (VmHWM) and, per
// in-flight stream, what it holds beyond the bytes the capture keeps of
// that stream until it ends.
func (b *bench) memorySection(n int, streamTime time.Duration) string {
	const tokens = 60
	tpot := streamTime / tokens
	slow := b.startSimulator("--ttft", tpot.String(), "--tpot", tpot.String(), "--output-tokens", strconv.Itoa(tokens), "--no-cache")
	var out strings.Builder
	fmt.Fprintf(&out, "### Memory: %d concurrent slow streams\n\nEach stream: %d tokens, one every %v (%v in all). RSS sampled every 250 ms while every stream is open; *idle* is the process's RSS before the streams, after a warm-up call. *Captured bytes* are the request plus the response bytes received so far, per stream — what capture must keep until the exchange ends.\n\n", n, tokens, tpot, streamTime)
	out.WriteString("| target | idle RSS | peak RSS (VmHWM) | RSS per in-flight stream | captured bytes per stream | RSS per stream beyond its captured bytes | incomplete |\n|---|---|---|---|---|---|---|\n")
	var breakdown string
	for _, t := range []*target{b.startCapture(slow, true), b.startBare(slow)} {
		call(newClient(1), t, true)
		time.Sleep(200 * time.Millisecond)
		idle := procStatus(t.pid, "VmRSS")
		var runtimeIdle map[string]float64
		if t.dir != "" {
			runtimeIdle = goMetrics(t.url)
		}
		var received atomic.Int64
		var incomplete atomic.Int64
		c := newClient(n)
		var wg sync.WaitGroup
		start := time.Now()
		for range n {
			wg.Go(func() {
				resp, err := c.Do(request(t, true, nil))
				if err != nil {
					incomplete.Add(1)
					return
				}
				defer resp.Body.Close()
				buf := make([]byte, 4096)
				var all []byte
				for {
					k, err := resp.Body.Read(buf)
					received.Add(int64(k))
					all = append(all, buf[:k]...)
					if err != nil {
						break
					}
				}
				if !bytes.HasSuffix(all, []byte("[DONE]\n\n")) {
					incomplete.Add(1)
				}
			})
		}
		// Sample until the streams start to end; the peak is near the end,
		// when every stream holds most of its answer.
		var peak, atPeak int64
		var runtimeAtPeak map[string]float64
		for time.Since(start) < streamTime-tpot {
			time.Sleep(250 * time.Millisecond)
			if rss := procStatus(t.pid, "VmRSS"); rss > peak {
				peak, atPeak = rss, received.Load()
				if t.dir != "" {
					runtimeAtPeak = goMetrics(t.url)
				}
			}
		}
		wg.Wait()
		c.CloseIdleConnections()
		hwm := procStatus(t.pid, "VmHWM")
		reqBytes := int64(len(body("", true)))
		perStream := float64(peak-idle) / float64(n)
		captured := float64(atPeak)/float64(n) + float64(reqBytes)
		beyond := "-"
		if t.dir != "" {
			beyond = fmt.Sprintf("%.1f KiB", (perStream-captured)/1024)
		}
		fmt.Fprintf(&out, "| %s | %.1f MiB | %.1f MiB | %.1f KiB | %.1f KiB | %s | %d |\n", t.name, float64(idle)/(1<<20), float64(hwm)/(1<<20),
			perStream/1024, captured/1024, beyond, incomplete.Load())
		if runtimeAtPeak != nil && runtimeIdle != nil {
			per := func(k string) float64 { return (runtimeAtPeak[k] - runtimeIdle[k]) / float64(n) }
			kib := func(k string) float64 { return per(k) / 1024 }
			breakdown = fmt.Sprintf("Capture's Go runtime at the peak, over idle, per stream (its /metrics): heap in use %.1f KiB, goroutine stacks %.1f KiB, %.1f goroutines, heap objects %.0f. "+
				"The runtime's memory classes: live and not yet collected objects %.1f KiB, unused space in in-use spans %.1f KiB, free heap not returned to the OS %.1f KiB, stacks %.1f KiB, metadata %.1f KiB, other %.1f KiB; new goroutines start with %.0f KiB stacks.\n",
				kib("go_memstats_heap_inuse_bytes"), kib("go_memstats_stack_inuse_bytes"), per("go_goroutines"), per("go_memstats_heap_objects"),
				kib("go_memory_classes_heap_objects_bytes"), kib("go_memory_classes_heap_unused_bytes"), kib("go_memory_classes_heap_free_bytes"),
				kib("go_memory_classes_heap_stacks_bytes"), kib("go_memory_classes_metadata_mspan_inuse_bytes")+kib("go_memory_classes_metadata_mcache_inuse_bytes")+kib("go_memory_classes_metadata_other_bytes"),
				kib("go_memory_classes_other_bytes"), runtimeAtPeak["go_gc_stack_starting_size_bytes"]/1024)
		}
	}
	out.WriteString("\n" + breakdown + "\n")
	return out.String()
}

// goMetrics reads the Go runtime's gauges from a capture's /metrics.
func goMetrics(url string) map[string]float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "go_") && !strings.Contains(name, "{") {
			out[name], _ = strconv.ParseFloat(val, 64)
		}
	}
	return out
}
