package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

// cacheSegment writes one sealed segment of node: n streamed calls a
// minute apart from start, each from one of keys with that key's long
// system prompt (so calls of a key share a cacheable prefix). cached,
// when > 0, is the cached_tokens the API reports for the first call.
func cacheSegment(t *testing.T, dir, node string, start time.Time, n int, keys []string, cached int) {
	t.Helper()
	chatSegment(t, dir, node, start, n, time.Minute, func(i int) (string, string, int) {
		key := keys[i%len(keys)]
		return key, formattest.Text(rand.New(rand.NewPCG(uint64(len(key)), uint64(key[len(key)-1]))), 1400), 1900
	}, func(i int, last *format.Chunk) {
		if i == 0 && cached > 0 {
			last.D = strings.Replace(last.D, `"cached_tokens":0`, fmt.Sprintf(`"cached_tokens":%d`, cached), 1)
		}
	})
}

// TestShorterCopyReplaysEverything: a segment analysed again from a copy
// that lacks some of its calls takes them out of the database, and the
// cache tables come out as a full run over what is left writes them.
func TestShorterCopyReplaysEverything(t *testing.T) {
	dir, long, short := t.TempDir(), t.TempDir(), t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	keys := []string{"sk-a", "sk-b"}
	cacheSegment(t, long, "n1", day, 12, keys, 0)
	cacheSegment(t, short, "n1", day, 8, keys, 0) // the same first 8 calls
	cacheSegment(t, dir, "n2", day.Add(time.Hour), 6, keys, 0)
	segs := func(d string) string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(d, "*.ndjson.zst"))
		if err != nil || len(m) != 1 {
			t.Fatalf("%s: %v %v", d, m, err)
		}
		return m[0]
	}
	target := filepath.Join(dir, filepath.Base(segs(long)))
	copyFile := func(from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(segs(long))
	inc := filepath.Join(t.TempDir(), "inc.duckdb")
	analyzeInto(t, dir, inc, false)
	copyFile(segs(short))
	if s := analyzeInto(t, dir, inc, false); s.Segments != 1 || s.CacheReplayed != 14 {
		t.Fatalf("the shorter copy: %d segments analysed, %d calls replayed; want 1 and all 14", s.Segments, s.CacheReplayed)
	}
	full := filepath.Join(t.TempDir(), "full.duckdb")
	analyzeInto(t, dir, full, true)
	for _, q := range []string{
		`SELECT request_id, estimated_cached_tokens, estimated_cache_hit_rate FROM api_calls ORDER BY request_id`,
		`SELECT * FROM cache_predictions ORDER BY request_id`,
		`SELECT * FROM cache_family_calls ORDER BY request_id`,
		`SELECT * FROM cache_opportunities ORDER BY family`,
	} {
		if a, b := dump(t, inc, q), dump(t, full, q); a != b {
			t.Errorf("after the shorter copy, incremental and full differ for %s:\n%.2000s\n---\n%.2000s", q, a, b)
		}
	}
}

// TestInterruptedRunPassesOverEverything: a run that stopped between its
// loads and the end of its passes leaves a mark, and the next run passes
// over every call, not only its own.
func TestInterruptedRunPassesOverEverything(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	db := filepath.Join(t.TempDir(), "lessllm.duckdb")
	cacheSegment(t, dir, "n1", day, 10, []string{"sk-a", "sk-b"}, 0)
	analyzeInto(t, dir, db, false)
	conn, err := OpenDB(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`INSERT OR REPLACE INTO lessllm_meta VALUES ('passes_pending', 'yes')`); err != nil { // as a killed run leaves it
		t.Fatal(err)
	}
	conn.Close()
	// and without the dataset's files: they are written after the passes.
	parquet := filepath.Join(filepath.Dir(db), "parquet")
	if err := os.RemoveAll(tableDir(parquet)); err != nil {
		t.Fatal(err)
	}
	cacheSegment(t, dir, "n2", day.Add(time.Hour), 4, []string{"sk-c"}, 0)
	if s := analyzeInto(t, dir, db, false); s.CacheReplayed != 14 {
		t.Errorf("after an interrupted run: replayed %d calls, want all 14", s.CacheReplayed)
	}
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	var inDataset int
	if err := duck.QueryRow(`SELECT count(*) FROM read_parquet(?)`, filepath.Join(tableDir(parquet), "*", "*.parquet")).Scan(&inDataset); err != nil || inDataset != 14 {
		t.Errorf("after an interrupted run: %d calls in the Parquet dataset (%v), want all 14", inDataset, err)
	}
	cacheSegment(t, dir, "n3", day.Add(2*time.Hour), 2, []string{"sk-c"}, 0)
	if s := analyzeInto(t, dir, db, false); s.CacheReplayed != 6 {
		t.Errorf("the run after: replayed %d calls, want key c's 6", s.CacheReplayed)
	}
}

// chatSegment writes one sealed segment of node: n streamed Chat
// Completions calls, gap apart from start; call(i) gives the i-th call's
// API key, system prompt and the prompt count the API reports for it, and
// edit, when not nil, may change its last chunk (the usage).
func chatSegment(t *testing.T, dir, node string, start time.Time, n int, gap time.Duration,
	call func(i int) (key, system string, prompt int), edit func(i int, last *format.Chunk)) {
	t.Helper()
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: node, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(start.Unix()), 7))
	for i := range n {
		key, system, prompt := call(i)
		ex := formattest.StreamedChat(r, start.Add(time.Duration(i)*gap), 5)
		ex.Request.Headers["Authorization"] = []string{format.RedactValue("Bearer " + key)}
		body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":%q},{"role":"user","content":"question %d"}]}`, system, i)
		ex.Request.SetBody([]byte(body), int64(len(body)))
		// formattest's usage says 120 prompt tokens.
		last := &ex.Response.Chunks[len(ex.Response.Chunks)-1]
		last.D = strings.Replace(last.D, `"prompt_tokens":120,`, fmt.Sprintf(`"prompt_tokens":%d,`, prompt), 1)
		if edit != nil {
			edit(i, last)
		}
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// analyzeInto runs an analysis of dir into db.
func analyzeInto(t *testing.T, dir, db string, full bool) *Summary {
	t.Helper()
	sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: db, Full: full})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestIncrementalCacheReplay: a run that adds segments replays only the
// scopes they touch (and every scope of a model whose learned parameters
// moved), and the tables come out exactly as one full run writes them —
// also when a segment older than everything arrives last. The SQL that
// learns the parameters gives what promptcache.ParamsOf gives.
func TestIncrementalCacheReplay(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	inc := filepath.Join(t.TempDir(), "inc.duckdb")
	run := func(db string, full bool) *Summary { t.Helper(); return analyzeInto(t, dir, db, full) }
	// Day 1: keys a, b, c; key d only here.
	cacheSegment(t, dir, "n1", day, 40, []string{"sk-a", "sk-b", "sk-c", "sk-d"}, 0)
	if s := run(inc, false); s.CacheReplayed != 40 {
		t.Fatalf("first run replayed %d of 40", s.CacheReplayed)
	}
	// Day 2: keys a and b again: their scopes, not c's or d's.
	cacheSegment(t, dir, "n2", day.Add(24*time.Hour), 20, []string{"sk-a", "sk-b"}, 0)
	if s := run(inc, false); s.CacheReplayed != 40 {
		t.Errorf("second run replayed %d calls, want the 20 new and the 20 earlier of keys a and b", s.CacheReplayed)
	}
	// A segment older than everything, for key c: its scope only.
	cacheSegment(t, dir, "n3", day.Add(-24*time.Hour), 5, []string{"sk-c"}, 0)
	if s := run(inc, false); s.CacheReplayed != 15 {
		t.Errorf("late segment: replayed %d calls, want key c's 10 and its 5", s.CacheReplayed)
	}
	// A reported count of 1000 narrows the model's step from 128 to 8:
	// every scope of the model is replayed.
	cacheSegment(t, dir, "n4", day.Add(48*time.Hour), 2, []string{"sk-e"}, 1000)
	if s := run(inc, false); s.CacheReplayed != 67 {
		t.Errorf("moved step: replayed %d calls, want all 67", s.CacheReplayed)
	}
	// The replay changed rows of segments this run did not load: their
	// files were written again.
	datasetEqualsTable(t, inc)

	full := filepath.Join(t.TempDir(), "full.duckdb")
	if s := run(full, true); s.CacheReplayed != 67 {
		t.Fatalf("full run replayed %d", s.CacheReplayed)
	}
	for _, q := range []string{
		`SELECT request_id, estimated_cached_tokens, estimated_cache_hit_rate FROM api_calls ORDER BY request_id`,
		`SELECT * FROM cache_predictions ORDER BY request_id`,
		`SELECT * FROM cache_opportunities ORDER BY family`,
	} {
		a, b := dump(t, inc, q), dump(t, full, q)
		if a != b {
			t.Errorf("incremental and full differ for %s:\n%s\n---\n%s", q, a, b)
		}
	}
	if n := dump(t, full, `SELECT count(*) FILTER (WHERE estimated_cached_tokens > 0) FROM cache_predictions`); n == "0\n" {
		t.Error("no predicted hit: the workload does not exercise the cache")
	}

	db, err := OpenReadOnly(full)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rules := promptcache.Default()
	fromSQL, err := cacheParams(context.Background(), db, rules, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := allCacheCalls(t, db)
	if want := promptcache.ParamsOf(rules, calls); !reflect.DeepEqual(fromSQL, want) {
		t.Errorf("learned in SQL %+v, from the calls %+v", fromSQL, want)
	}
	if fromSQL.Steps["openai\x00gpt-4o-mini"] != 8 {
		t.Errorf("step %d, want gcd(128, 1000) = 8", fromSQL.Steps["openai\x00gpt-4o-mini"])
	}
}

// TestCheckpointedCacheReplay: a large scope is replayed from the
// checkpoint the last replay left before its latest calls, not from its
// start, and the tables still come out exactly as one full run writes them
// — the family's opportunity included, whose earlier calls were not
// replayed; a call older than the checkpoint sends the scope back to its
// start.
func TestCheckpointedCacheReplay(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	inc := filepath.Join(t.TempDir(), "inc.duckdb")
	run := func(db string, full bool) *Summary { t.Helper(); return analyzeInto(t, dir, db, full) }
	n := checkpointMinCalls + 100
	cacheSegment(t, dir, "n1", day, n, []string{"sk-big"}, 0)
	if s := run(inc, false); s.CacheReplayed != n {
		t.Fatalf("first run replayed %d of %d", s.CacheReplayed, n)
	}
	if got := dump(t, inc, `SELECT count(*) FROM cache_checkpoints`); got != "1\n" {
		t.Fatalf("%s checkpoints, want one for the large scope", got)
	}
	// Calls a minute apart: the checkpoint lies before the last
	// checkpointLag of them, and only those are replayed with the new.
	lagged := int(checkpointLag / time.Minute)
	cacheSegment(t, dir, "n2", day.Add(time.Duration(n)*time.Minute), 20, []string{"sk-big"}, 0)
	if s := run(inc, false); s.CacheReplayed != lagged+20 {
		t.Errorf("resumed run replayed %d calls, want the %d after the checkpoint and the 20 new", s.CacheReplayed, lagged)
	}
	cacheSegment(t, dir, "n3", day.Add(time.Duration(n+20)*time.Minute), 5, []string{"sk-big"}, 0)
	if s := run(inc, false); s.CacheReplayed != lagged+5 {
		t.Errorf("second resumed run replayed %d calls, want %d", s.CacheReplayed, lagged+5)
	}
	// Older than the checkpoint: the whole scope again.
	cacheSegment(t, dir, "n4", day.Add(30*time.Second), 3, []string{"sk-big"}, 0)
	if s := run(inc, false); s.CacheReplayed != n+28 {
		t.Errorf("late calls: replayed %d calls, want all %d", s.CacheReplayed, n+28)
	}
	cacheSegment(t, dir, "n5", day.Add(time.Duration(n+25)*time.Minute), 2, []string{"sk-big"}, 0)
	if s := run(inc, false); s.CacheReplayed != lagged+2 {
		t.Errorf("resumed after the late calls: replayed %d calls, want %d", s.CacheReplayed, lagged+2)
	}

	full := filepath.Join(t.TempDir(), "full.duckdb")
	run(full, true)
	for _, q := range []string{
		`SELECT request_id, estimated_cached_tokens, estimated_cache_hit_rate FROM api_calls ORDER BY request_id`,
		`SELECT * FROM cache_predictions ORDER BY request_id`,
		`SELECT * FROM cache_opportunities ORDER BY family`,
		`SELECT * FROM cache_checkpoints`,
	} {
		a, b := dump(t, inc, q), dump(t, full, q)
		if a != b {
			t.Errorf("incremental and full differ for %s:\n%.2000s\n---\n%.2000s", q, a, b)
		}
	}
	if got := dump(t, full, `SELECT calls FROM cache_opportunities`); got != fmt.Sprintf("%d\n", n+30) {
		t.Errorf("the family has %s calls, want all %d", got, n+30)
	}
}

// allCacheCalls reads every call the cache model replays, as replayCache
// does on a full run.
func allCacheCalls(t *testing.T, db *sql.DB) []promptcache.Call {
	t.Helper()
	rows, err := db.Query(`SELECT p.provider, p.model, p.tokens, coalesce(c.actual_prompt_tokens, 0), coalesce(c.actual_cached_tokens, -1)
		FROM cache_prompts p JOIN api_calls c USING (request_id)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var calls []promptcache.Call
	for rows.Next() {
		var c promptcache.Call
		var tokens int32
		if err := rows.Scan(&c.Provider, &c.Model, &tokens, &c.ActualPrompt, &c.ActualCached); err != nil {
			t.Fatal(err)
		}
		if tokens != 0 {
			c.FP = &promptcache.Fingerprint{Tokens: tokens}
		}
		calls = append(calls, c)
	}
	return calls
}

// datasetEqualsTable checks that the Parquet dataset next to db holds
// what api_calls holds: every row and column, as text, by request_id.
func datasetEqualsTable(t *testing.T, db string) {
	t.Helper()
	conn, err := OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cols := strings.Join(callSelectList(), ", ")
	files := filepath.Join(tableDir(filepath.Join(filepath.Dir(db), "parquet")), "*", "*.parquet")
	var table, dataset strings.Builder
	for _, q := range []struct {
		from string
		out  *strings.Builder
	}{{"api_calls", &table}, {"read_parquet(" + quote(files) + ", hive_partitioning = false)", &dataset}} {
		res, err := Query(context.Background(), conn, `SELECT `+cols+` FROM `+q.from+` ORDER BY request_id`)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Write(q.out, "csv"); err != nil {
			t.Fatal(err)
		}
	}
	tl, dl := strings.Split(table.String(), "\n"), strings.Split(dataset.String(), "\n")
	for i := range max(len(tl), len(dl)) {
		if i >= len(tl) || i >= len(dl) || tl[i] != dl[i] {
			t.Errorf("the Parquet dataset differs from api_calls at row %d of %d/%d:\ncolumns: %s\ntable:   %.2000s\ndataset: %.2000s",
				i, len(tl), len(dl), tl[0], tl[min(i, len(tl)-1)], dl[min(i, len(dl)-1)])
			return
		}
	}
}

// dump is a query's rows as text.
func dump(t *testing.T, path, q string) string {
	t.Helper()
	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := Query(context.Background(), db, q)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.Write(&b, "csv"); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(b.String(), strings.SplitN(b.String(), "\n", 2)[0]+"\n")
}
