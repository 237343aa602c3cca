package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // read_json, the reference reader

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// analyzeBench measures `lessllm analyze` end to end (segments → DuckDB +
// Parquet, a fresh database each round, the binary as a user runs it) next
// to `zstd -dc` of the same segments, in the same run: the floor any reader
// of the format pays. Each size in sizes is its own dataset (16 MB
// segments, as a capture node rotates them); DuckDB's own read_json, which
// takes several times longer, is run on the first only. A run over no
// segments gives the fixed cost of one run (process start, creating the
// database, the passes over other calls, the final checkpoint).
func analyzeBench(bin string, sizes []int, chunks, rounds int) string {
	dir, cleanup := workDir("analyze")
	defer cleanup()
	var b strings.Builder
	fmt.Fprintf(&b, "Streamed chat exchanges of %d chunks in 16 MB segments. Median of %d rounds; every analysis starts from a new database (`lessllm analyze DIR --db NEW`, the binary, process start included).\n\n", chunks, rounds)
	b.WriteString("| dataset | reader | time | exchanges/s | NDJSON MB/s |\n|---|---|---:|---:|---:|\n")
	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(empty, 0o700); err != nil {
		log.Fatal(err)
	}
	var fixed []time.Duration
	for round := range rounds {
		fixed = append(fixed, timeAnalyze(bin, empty, filepath.Join(dir, fmt.Sprintf("empty%d", round), "lessllm.duckdb")))
	}
	fmt.Fprintf(&b, "| no segments | `lessllm analyze` (fixed cost of a run) | %.2f s | | |\n", median(fixed).Seconds())
	var summary []string
	for i, n := range sizes {
		segDir := filepath.Join(dir, fmt.Sprintf("captures-%d", n))
		files, disk, ndjson := writeBenchSegments(segDir, n, chunks)
		var zstdT, analyzeT, duckT []time.Duration
		for round := range rounds {
			t0 := time.Now()
			z := exec.Command("zstd", append([]string{"-dc", "-q"}, files...)...)
			z.Stdout = io.Discard
			if err := z.Run(); err != nil {
				log.Fatalf("zstd -dc: %v (is zstd installed?)", err)
			}
			zstdT = append(zstdT, time.Since(t0))
			db := filepath.Join(dir, fmt.Sprintf("round%d-%d", round, n), "lessllm.duckdb")
			analyzeT = append(analyzeT, timeAnalyze(bin, segDir, db))
			if i == 0 {
				// DuckDB's own read_json over the same segments (no lessllm
				// code in the reading): every record parsed into DuckDB's
				// types, every chunk of every stream touched. In this
				// process, with a new in-memory database (`lessllm query`
				// reads no file but its database), so without the process
				// start analyze pays.
				t0 = time.Now()
				q := fmt.Sprintf(`SELECT count(*), sum(len(response.chunks)), sum(length(request.body::VARCHAR)) FROM read_json('%s', format='newline_delimited', compression='zstd', maximum_object_size=268435456)`,
					filepath.Join(segDir, "*"+format.SealedSuffix))
				if err := duckQuery(q); err != nil {
					log.Fatalf("duckdb read_json: %v", err)
				}
				duckT = append(duckT, time.Since(t0))
			}
			log.Printf("analyze %d exchanges, round %d: zstd -dc %v, lessllm analyze %v", n, round, zstdT[round], analyzeT[round])
		}
		name := fmt.Sprintf("%d exchanges, %d segment(s), %.1f MB on disk, %.1f MB of NDJSON", n, len(files), float64(disk)/1e6, float64(ndjson)/1e6)
		row := func(reader string, d time.Duration) {
			fmt.Fprintf(&b, "| %s | %s | %.2f s | %.0f | %.0f |\n", name, reader, d.Seconds(), float64(n)/d.Seconds(), float64(ndjson)/1e6/d.Seconds())
		}
		zt, at := median(zstdT), median(analyzeT)
		row("`zstd -dc` (decompress only)", zt)
		if i == 0 {
			row("DuckDB `read_json` (parse every record, touch every chunk)", median(duckT))
		}
		row("`lessllm analyze` (→ DuckDB + Parquet, every metric)", at)
		summary = append(summary, fmt.Sprintf("%d exchanges: %.0f exchanges/s, %.1f× the time of `zstd -dc`", n, float64(n)/at.Seconds(), at.Seconds()/zt.Seconds()))
	}
	fmt.Fprintf(&b, "\n`lessllm analyze`: %s. Targets: ≥ 5,000 exchanges/s at nightly scale (15,000 exchanges), ≥ 4,000 on one segment.\n", strings.Join(summary, "; "))
	return b.String()
}

// workDir makes a temporary directory for a benchmark section and returns
// the function that removes it — or keeps it, logging where, when
// LESSLLM_BENCH_KEEP is set (to look at the data or a profile afterwards).
func workDir(section string) (string, func()) {
	dir, err := os.MkdirTemp("", "lessllm-bench-"+section)
	if err != nil {
		log.Fatal(err)
	}
	if os.Getenv("LESSLLM_BENCH_KEEP") != "" {
		log.Printf("keeping %s (LESSLLM_BENCH_KEEP)", dir)
		return dir, func() {}
	}
	return dir, func() { os.RemoveAll(dir) }
}

// writeBenchSegments writes n streamed exchanges into sealed 16 MB
// segments under dir and returns their paths, bytes on disk and bytes of
// NDJSON.
func writeBenchSegments(dir string, n, chunks int) (files []string, disk, ndjson int64) {
	writeSegments(dir, "bench", 0, n, chunks, freshDatasets["key-per-call"])
	segs, err := format.ListSegments([]string{dir}, false)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range segs {
		ft, err := format.ReadFooter(s.Path)
		if err != nil {
			log.Fatal(err)
		}
		files = append(files, s.Path)
		disk += s.Size
		ndjson += ft.ContentBytes
	}
	return files, disk, ndjson
}

// timeAnalyze runs `lessllm analyze` on dir into a new database at db.
func timeAnalyze(bin, dir, db string) time.Duration {
	t0 := time.Now()
	out, err := exec.Command(bin, "analyze", dir, "--db", db, "--no-progress").CombinedOutput()
	if err != nil {
		log.Fatalf("lessllm analyze: %v\n%s", err, out)
	}
	return time.Since(t0)
}

// duckQuery runs q in a new in-memory DuckDB and reads its one row.
func duckQuery(q string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	var a, b, c sql.NullInt64
	return db.QueryRow(q).Scan(&a, &b, &c)
}

// freshDataset is one shape of traffic of the fresh-analysis benchmark.
type freshDataset struct {
	name, desc string
	keys       int    // > 0: the calls spread over this many API keys; 0: a key per call
	system     string // "": formattest's short prompts; else every call's system prompt
	prompt     int    // with system: the API's prompt count
	plainEvery int    // > 0: every plainEvery-th call is not streamed
}

var freshDatasets = map[string]freshDataset{
	"key-per-call": {name: "key-per-call", desc: "each call with its own API key, so each its own cache scope"},
	"one-key": {name: "one-key", desc: "all calls from one API key, so one cache scope (short prompts, below every cache minimum); every fourth call not streamed, so its TTFT is modeled from the streamed calls before it",
		keys: 1, plainEvery: 4},
	"one-prompt": {name: "one-prompt", desc: "all calls from one API key with one ~1,900-token system prompt and a question of their own: one cache scope and one prompt family of every call, the shape of one application's traffic",
		keys: 1, system: "You are the support assistant of Example Corp. " + formattest.Text(rand.New(rand.NewPCG(5, 6)), 1400), prompt: 1960},
}

// freshBench measures an incremental run (README "See your calls now"):
// `lessllm analyze` of add new calls into a database that already holds
// base calls — streamed exchanges of chunks chunks, a second apart, as
// writeSegments makes them for the dataset — the binary as a user runs
// it. The base database is built once (that run's time is reported too);
// each round then writes a new segment of add calls, later than everything
// before, and times the run that analyses it. The last round runs with
// --cpu-profile, and the profile's top entries are printed with the table.
func freshBench(bin string, base, add, chunks, rounds int, set freshDataset) string {
	dir, cleanup := workDir("fresh")
	defer cleanup()
	captures := filepath.Join(dir, "captures")
	db := filepath.Join(dir, "lessllm.duckdb")
	t0 := time.Now()
	writeSegments(captures, "base", 0, base, chunks, set)
	log.Printf("fresh %s: %d base exchanges written in %v", set.name, base, time.Since(t0))
	baseT := timeAnalyze(bin, captures, db)
	log.Printf("fresh %s: base analysis %v", set.name, baseT)
	var runs []time.Duration
	profile := filepath.Join(dir, "fresh.pprof")
	for round := range rounds {
		writeSegments(captures, fmt.Sprintf("new%d", round), base+round*add, add, chunks, set)
		args := []string{"analyze", captures, "--db", db, "--no-progress"}
		if round == rounds-1 {
			args = append(args, "--cpu-profile", profile)
		}
		t := time.Now()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			log.Fatalf("lessllm analyze: %v\n%s", err, out)
		}
		runs = append(runs, time.Since(t))
		log.Printf("fresh %s: %d new into %d, round %d: %v", set.name, add, base+round*add, round, runs[round])
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=20", bin, profile).Output()
	if err != nil {
		top = []byte(fmt.Sprintf("(go tool pprof: %v)", err))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**: a database of %d streamed calls (%d chunks each, %s); each round writes a new segment of %d later calls and times `lessllm analyze DIR --db SAME` (the binary, process start included). Median of %d rounds.\n\n", set.name, base, chunks, set.desc, add, rounds)
	b.WriteString("| run | time |\n|---|---:|\n")
	fmt.Fprintf(&b, "| the %d calls into a new database (for scale) | %.1f s |\n", base, baseT.Seconds())
	fmt.Fprintf(&b, "| %d new calls into the database of %d | %.2f s |\n", add, base, median(runs).Seconds())
	fmt.Fprintf(&b, "\nTarget: ≤ 1 s. CPU profile of the last round (`go tool pprof -top`), flat and cumulative:\n\n```\n%s```\n", top)
	return b.String()
}

// writeSegments writes n exchanges of the dataset set, the first at
// second `from` of the dataset, into sealed 16 MB segments of node name
// under dir.
func writeSegments(dir, node string, from, n, chunks int, set freshDataset) {
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: node, FlushInterval: time.Hour, MaxSegmentBytes: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(from)+1, 2))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ex := formattest.StreamedChat(r, start.Add(time.Duration(from+i)*time.Second), chunks)
		if set.keys > 0 {
			ex.Request.Headers["Authorization"] = []string{format.RedactValue(fmt.Sprintf("Bearer sk-bench-%d", (from+i)%set.keys))}
		}
		if set.system != "" {
			body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":%q},{"role":"user","content":"question %d: %s"}]}`,
				set.system, from+i, formattest.Text(r, 20))
			ex.Request.SetBody([]byte(body), int64(len(body)))
			last := &ex.Response.Chunks[len(ex.Response.Chunks)-1]
			last.D = strings.Replace(last.D, `"prompt_tokens":120,`, fmt.Sprintf(`"prompt_tokens":%d,`, set.prompt), 1)
		}
		if set.plainEvery > 0 && (from+i)%set.plainEvery == 0 {
			unstream(ex)
		}
		if err := w.Append(ex); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
}

// unstream turns a streamed Chat Completions exchange into the
// non-streamed call that would have answered the same: the request without
// stream, the answer one JSON body with the stream's text and usage,
// arriving when the stream ended, and no processing time from the API (so
// the network estimate applies to it too).
func unstream(ex *format.Exchange) {
	body := strings.Replace(string(ex.Request.Raw()), `"stream":true,"stream_options":{"include_usage":true}`, `"stream":false`, 1)
	ex.Request.SetBody([]byte(body), int64(len(body)))
	var text strings.Builder
	var usage json.RawMessage
	for _, c := range ex.Response.Chunks {
		for _, line := range strings.Split(c.D, "\n") {
			var ev struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
				Usage json.RawMessage `json:"usage"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) != nil {
				continue
			}
			for _, ch := range ev.Choices {
				text.WriteString(ch.Delta.Content)
			}
			if len(ev.Usage) > 0 && string(ev.Usage) != "null" {
				usage = ev.Usage
			}
		}
	}
	content, _ := json.Marshal(text.String())
	answer := fmt.Sprintf(`{"id":"chatcmpl-%s","object":"chat.completion","created":%d,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":%s}`,
		ex.ID, ex.StartNS/1e9, content, usage)
	last := ex.Response.Chunks[len(ex.Response.Chunks)-1].T
	ex.Response.Chunks = []format.Chunk{format.NewChunk(last, []byte(answer))}
	ex.Response.Bytes = int64(len(answer))
	ex.Response.Headers["Content-Type"] = []string{"application/json"}
	delete(ex.Response.Headers, "Openai-Processing-Ms")
	ex.Timings.FirstByte = last
}
