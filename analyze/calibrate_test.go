package analyze

import (
	"context"
	"database/sql"
	"math"
	"testing"

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
		if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, model, ttft_source, estimated_ttft_ms, actual_prompt_tokens, total_latency_ms)
			VALUES (?, 'm', 'measured', 200, ?, 400)`, "s"+string(rune('a'+i)), 10+i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO api_calls (request_id, model, ttft_source, actual_prompt_tokens, actual_completion_tokens, total_latency_ms)
		VALUES ('fast', 'm', 'modeled', 12, 5, 100.12351)`); err != nil {
		t.Fatal(err)
	}
	if err := calibrate(ctx, db, pricing.Default()); err != nil {
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
	exec(`INSERT INTO api_calls (request_id, model, endpoint, stream, status, ttft_source, actual_completion_tokens, total_latency_ms)
		VALUES ('lone', 'm', '/v1/chat/completions', false, 200, 'modeled', 5, 300)`)
	exec(`INSERT INTO api_calls (request_id, model, endpoint, stream, status, total_latency_ms)
		VALUES ('embed', 'e', '/v1/embeddings', false, 200, 30)`)
	state := func() (src, ttft, tpot sql.NullString) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT ttft_source, estimated_ttft_ms::VARCHAR, estimated_tpot_ms::VARCHAR FROM api_calls WHERE request_id = 'lone'`).Scan(&src, &ttft, &tpot); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := calibrate(ctx, db, pricing.Default()); err != nil {
		t.Fatal(err)
	}
	if src, ttft, tpot := state(); src.Valid || ttft.Valid || tpot.Valid {
		t.Errorf("no streamed call of m yet: ttft_source %v, ttft %v, tpot %v; want all NULL", src, ttft, tpot)
	}
	exec(`INSERT INTO api_calls (request_id, model, endpoint, stream, status, ttft_source, estimated_ttft_ms, total_latency_ms)
		VALUES ('streamed', 'm', '/v1/chat/completions', true, 200, 'measured', 120, 400)`)
	if err := calibrate(ctx, db, pricing.Default()); err != nil {
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
