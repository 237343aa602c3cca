package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lessllm/lessllm/analyze"
)

// spendDB is an analysis database whose api_calls hold priced calls at
// chosen times (analyze creates the schema; the rows are inserted as
// analysis would have written them).
func spendDB(t *testing.T, calls [][3]any) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "spend.duckdb")
	if _, err := analyze.Run(context.Background(), analyze.Options{Inputs: []string{dir}, DB: path}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, c := range calls {
		if _, err := db.Exec(`INSERT INTO api_calls (request_id, "timestamp", provider, model, user_id, estimated_cost_usd, stream, total_latency_ms)
			VALUES (?, ?::TIMESTAMPTZ, 'openai', ?, 'team-a', ?, false, 100)`, "r"+string(rune('a'+i)), c[0], c[1], c[2]); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestBudgetCheck(t *testing.T) {
	// November 2026, checked on the 15th at noon UTC: gpt-4o-mini spent
	// $300 so far this month at $20/day over the last 30 days; team-a's
	// calls spent $45 today ($20 of gpt-4o-mini, $25 of gpt-4o).
	var calls [][3]any
	for d := 1; d <= 15; d++ {
		calls = append(calls, [3]any{"2026-11-" + pad(d) + "T09:00:00Z", "gpt-4o-mini", 20.0})
	}
	calls = append(calls, [3]any{"2026-10-20T09:00:00Z", "gpt-4o-mini", 300.0}, [3]any{"2026-11-15T08:00:00Z", "gpt-4o", 25.0})
	db := spendDB(t, calls)
	cases := []struct {
		name, budgets string
		code          int
		want          []string
	}{
		{"within", "  - { model: gpt-4o-mini, period: monthly, usd: 1000 }\n", 0,
			[]string{"ok", "model=gpt-4o-mini monthly budget $1000.00: spent $300.00"}},
		{"projected", "  - { model: gpt-4o-mini, period: monthly, usd: 500 }\n", 1,
			[]string{"projected", "model=gpt-4o-mini monthly budget $500.00 projected to be exceeded: spent $300.00", "by 2026-12-01"}},
		{"exceeded", "  - { user: team-a, period: daily, usd: 20 }\n", 1,
			[]string{"exceeded", "user=team-a daily budget $20.00 exceeded: spent $45.00 since 2026-11-15 (over by $25.00)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "lessllm.yaml")
			os.WriteFile(cfg, []byte("budgets:\n"+tc.budgets), 0o600)
			out, stderr, code := runLessllm(t, "budget", "check", "--db", db, "--config", cfg, "--now", "2026-11-15T12:00:00Z")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.code == 1 && !strings.Contains(stderr, "1 of 1 budgets exceeded or projected") {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

func pad(d int) string {
	if d < 10 {
		return "0" + string(rune('0'+d))
	}
	return string(rune('0'+d/10)) + string(rune('0'+d%10))
}
