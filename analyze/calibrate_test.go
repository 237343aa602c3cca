package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
)

// emptyDB is an in-memory analysis database with the schema and no rows.
func emptyDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := ensureSchema(context.Background(), db, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestModeledTPOTNeverNegativeZero: a non-streamed call that finished
// faster than its model's streamed calls took to their first token gets
// the whole call as TTFT and a TPOT of 0 — never -0, which the rounding
// of TTFT to 0.001 ms above the call's own latency used to give.
func TestModeledTPOTNeverNegativeZero(t *testing.T) {
	ctx := context.Background()
	db := emptyDB(t)
	for i := range 10 {
		if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, "timestamp", model, ttft_source, estimated_ttft_ms, actual_prompt_tokens, total_latency_ms)
			VALUES (?, '2026-11-20 10:00:00+00', 'm', 'measured', 200, ?, 400)`, "s"+string(rune('a'+i)), 10+i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, "timestamp", model, ttft_source, actual_prompt_tokens, actual_completion_tokens, total_latency_ms)
		VALUES ('fast', '2026-11-20 11:00:00+00', 'm', 'modeled', 12, 5, 100.12351)`); err != nil {
		t.Fatal(err)
	}
	if err := calibrate(ctx, db, pricing.Default(), nil, changedSegments{}); err != nil {
		t.Fatal(err)
	}
	var ttft, tpot float64
	if err := db.QueryRowContext(ctx, `SELECT estimated_ttft_ms, estimated_tpot_ms FROM api_calls WHERE request_id = 'fast'`).Scan(&ttft, &tpot); err != nil {
		t.Fatal(err)
	}
	if ttft > 100.12351 || tpot != 0 || math.Signbit(tpot) {
		t.Errorf("ttft %v (call took 100.12351 ms), tpot %v (signbit %v): want ttft ≤ the call, tpot +0", ttft, tpot, math.Signbit(tpot))
	}
}

// TestModeledSourceOnlyWithAValue: a non-streamed call of a model with no
// streamed call has no modeled TTFT, so no ttft_source either; the run
// that brings the model's streamed calls models it.
func TestModeledSourceOnlyWithAValue(t *testing.T) {
	ctx := context.Background()
	db := emptyDB(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO api_calls (request_id, "timestamp", model, endpoint, stream, status, ttft_source, actual_completion_tokens, total_latency_ms)
		VALUES ('lone', '2026-11-20 10:00:00+00', 'm', '/v1/chat/completions', false, 200, 'modeled', 5, 300)`)
	exec(`INSERT INTO api_calls (request_id, "timestamp", model, endpoint, stream, status, total_latency_ms)
		VALUES ('embed', '2026-11-20 10:00:00+00', 'e', '/v1/embeddings', false, 200, 30)`)
	state := func() (src, ttft, tpot sql.NullString) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT ttft_source, estimated_ttft_ms::VARCHAR, estimated_tpot_ms::VARCHAR FROM api_calls WHERE request_id = 'lone'`).Scan(&src, &ttft, &tpot); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := calibrate(ctx, db, pricing.Default(), nil, changedSegments{}); err != nil {
		t.Fatal(err)
	}
	if src, ttft, tpot := state(); src.Valid || ttft.Valid || tpot.Valid {
		t.Errorf("no streamed call of m yet: ttft_source %v, ttft %v, tpot %v; want all NULL", src, ttft, tpot)
	}
	exec(`INSERT INTO api_calls (request_id, "timestamp", model, endpoint, stream, status, ttft_source, estimated_ttft_ms, total_latency_ms)
		VALUES ('streamed', '2026-11-22 10:00:00+00', 'm', '/v1/chat/completions', true, 200, 'measured', 120, 400)`)
	if err := calibrate(ctx, db, pricing.Default(), nil, changedSegments{}); err != nil {
		t.Fatal(err)
	}
	if src, ttft, tpot := state(); src.String != "modeled" || ttft.String != "120.0" || tpot.String != "45.0" {
		t.Errorf("after a streamed call: ttft_source %v, ttft %v, tpot %v; want modeled, 120, 45", src, ttft, tpot)
	}
	var embedSource sql.NullString
	db.QueryRowContext(ctx, `SELECT ttft_source FROM api_calls WHERE request_id = 'embed'`).Scan(&embedSource)
	if embedSource.Valid {
		t.Errorf("an embedding call got ttft_source %q", embedSource.String)
	}
}

// TestDrawnFromTheCallsBefore: a non-streamed call is modeled from the
// latest streamed calls of its model that began before it (a window of
// modelTTFT.k), and one older than all of them from the first ones; its
// network estimate likewise from the connections before it. A run limited
// to the calls from some point on (since) recomputes those, writes only
// the rows that changed, and leaves the database as a run over everything
// does.
func TestDrawnFromTheCallsBefore(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	streamed := func(db *sql.DB, i int, ttft float64) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, "timestamp", model, provider, endpoint, stream, status, ttft_source, estimated_ttft_ms, connect_ms, total_latency_ms)
			VALUES (?, ?, 'm', 'anthropic', '/v1/messages', true, 200, 'measured', ?, ?, 900)`, fmt.Sprintf("s%04d", i), t0.Add(time.Duration(i)*time.Minute), ttft, ttft/10); err != nil {
			t.Fatal(err)
		}
	}
	plain := func(db *sql.DB, i int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, "timestamp", model, provider, endpoint, stream, status, ttft_source, actual_completion_tokens, total_latency_ms)
			VALUES (?, ?, 'm', 'anthropic', '/v1/messages', false, 200, 'modeled', 11, 1000)`, fmt.Sprintf("p%04d", i), t0.Add(time.Duration(i)*time.Minute+time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// Minute i: a non-streamed call at i=0..4 (before any streamed call),
	// then streamed calls whose TTFT is 100 + the minute, each followed by a
	// non-streamed call every third minute.
	fill := func(db *sql.DB, from, to int) {
		for i := from; i < to; i++ {
			if i < 5 {
				plain(db, i)
				continue
			}
			streamed(db, i, float64(100+i))
			if i%3 == 0 {
				plain(db, i)
			}
		}
	}
	whole := emptyDB(t)
	fill(whole, 0, 400)
	if err := calibrate(ctx, whole, pricing.Default(), nil, changedSegments{}); err != nil {
		t.Fatal(err)
	}
	ttft := func(db *sql.DB, id string) float64 {
		t.Helper()
		var v float64
		if err := db.QueryRowContext(ctx, `SELECT estimated_ttft_ms FROM api_calls WHERE request_id = ?`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// p0000: older than every streamed call: the first 100 (minutes 5..104),
	// median 154.5 (an even count: the mean of the middle two). p0300: the
	// 100 before it (minutes 201..300, the one of its own minute began
	// before it too), median 350.5. The line on prompt tokens has no
	// tokens to fit: the median.
	for id, want := range map[string]float64{"p0000": 154.5, "p0300": 350.5} {
		if got := ttft(whole, id); got != want {
			t.Errorf("%s: modeled TTFT %v, want %v", id, got, want)
		}
	}

	// The same calls in four runs, each limited to the calls it added.
	inc := emptyDB(t)
	var written []int64
	for _, part := range [][2]int{{0, 3}, {3, 150}, {150, 390}, {390, 400}} {
		fill(inc, part[0], part[1])
		since := t0.Add(time.Duration(part[0]) * time.Minute).UnixMicro()
		var from *int64
		if part[0] > 0 {
			from = &since
		}
		modelable, err := modelableEndpoints(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := inc.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for _, c := range calibrations {
			k, err := c.run(ctx, conn, modelable, from, changedSegments{})
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
		conn.Close()
		written = append(written, n)
	}
	q := `SELECT request_id, estimated_ttft_ms, estimated_tpot_ms, ttft_source, estimated_network_ms, estimated_compute_ms FROM api_calls ORDER BY request_id`
	if a, b := dumpDB(t, inc, q), dumpDB(t, whole, q); a != b {
		t.Errorf("limited runs and one run over everything differ:\n%.3000s\n---\n%.3000s", a, b)
	}
	// The last run adds minutes 390..399: 10 streamed calls (their network
	// estimates) and 4 non-streamed ones (their TTFT and network
	// estimates); nothing earlier is written.
	if last := written[len(written)-1]; last != 10+4+4 {
		t.Errorf("the last run wrote %d rows (%v), want the 18 of its own calls", last, written)
	}
}

// dumpDB is a query's rows as text.
func dumpDB(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	return b.String()
}
