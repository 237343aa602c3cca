package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
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
	w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: node, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(start.Unix()), 7))
	for i := range n {
		key := keys[i%len(keys)]
		ex := formattest.StreamedChat(r, start.Add(time.Duration(i)*time.Minute), 5)
		ex.Request.Headers["Authorization"] = []string{format.RedactValue("Bearer " + key)}
		system := formattest.Text(rand.New(rand.NewPCG(uint64(len(key)), uint64(key[len(key)-1]))), 1400)
		body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":%q},{"role":"user","content":"question %d"}]}`, system, i)
		ex.Request.SetBody([]byte(body), int64(len(body)))
		// The usage of a prompt that long (formattest's says 120 tokens).
		last := &ex.Response.Chunks[len(ex.Response.Chunks)-1]
		last.D = strings.Replace(last.D, `"prompt_tokens":120,`, `"prompt_tokens":1900,`, 1)
		if i == 0 && cached > 0 {
			last.D = strings.Replace(last.D, `"cached_tokens":0`, fmt.Sprintf(`"cached_tokens":%d`, cached), 1)
		}
		if err := w.Append(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
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
	run := func(db string, full bool) *Summary {
		t.Helper()
		sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: db, Full: full})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
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
	fromSQL, err := cacheParams(context.Background(), db, rules)
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
