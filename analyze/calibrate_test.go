package analyze

import (
	"context"
	"database/sql"
	"math"
	"testing"

	"github.com/lessllm/lessllm/analyze/pricing"
)

// TestModeledTPOTNeverNegativeZero: a non-streamed call that finished
// faster than its model's streamed calls took to their first token gets
// the whole call as TTFT and a TPOT of 0 — never -0, which the rounding
// of TTFT to 0.001 ms above the call's own latency used to give.
func TestModeledTPOTNeverNegativeZero(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := ensureSchema(ctx, db, t.TempDir()); err != nil {
		t.Fatal(err)
	}
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
