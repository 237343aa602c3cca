package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// The Parquet dataset is complete: every file holds what api_calls holds
// for its rows, the dataset-wide columns included. A segment's files are
// written while it is parsed, before the whole-database passes (calibrate,
// replayCache) fill the columns that depend on other calls; after the
// passes, the files of every segment whose rows they changed are written
// again from the database (README "Reading the outputs elsewhere").

// derivedColumns are the api_calls columns the whole-database passes
// write. A pass that writes another column must add it here, or the
// Parquet files of the rows it changes go stale.
var derivedColumns = []string{
	"estimated_ttft_ms", "estimated_tpot_ms", "estimated_prompt_tokens", "estimated_completion_tokens",
	"estimated_network_ms", "estimated_compute_ms", "estimated_cost_usd", "estimated_cost_without_cache_usd",
	"price_version", "estimated_cached_tokens", "estimated_cache_hit_rate", "ttft_source",
}

// derivedDigests returns, per segment, a digest of its rows' derived
// columns: equal before and after the passes when they changed nothing.
func derivedDigests(ctx context.Context, db *sql.DB) (map[string]uint64, error) {
	rows, err := db.QueryContext(ctx, `SELECT segment, bit_xor(hash(request_id, `+strings.Join(quoteIdents(derivedColumns), ", ")+`))
		FROM api_calls GROUP BY segment`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var seg string
		var h uint64
		if err := rows.Scan(&seg, &h); err != nil {
			return nil, err
		}
		out[seg] = h
	}
	return out, rows.Err()
}

// changedSegments are the segments whose digest differs.
func changedSegments(before, after map[string]uint64) []string {
	var out []string
	for seg, h := range after {
		if b, ok := before[seg]; !ok || b != h {
			out = append(out, seg)
		}
	}
	sort.Strings(out)
	return out
}

// rewriteSegments writes the Parquet files of segments again from their
// rows in the database.
func rewriteSegments(ctx context.Context, db *sql.DB, root string, segments []string) error {
	query := `SELECT ` + strings.Join(callSelectList(), ", ") + ` FROM api_calls WHERE segment = ? ORDER BY "timestamp", request_id`
	for _, seg := range segments {
		calls, err := readCalls(ctx, db, query, seg)
		if err != nil {
			return fmt.Errorf("rewrite parquet of %s: %w", seg, err)
		}
		pw := newPartitionWriter(root, seg)
		if err := pw.Write(calls); err != nil {
			pw.Abort()
			return err
		}
		if _, err := pw.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// callSelectList selects api_calls' columns in Call's field order, each
// in the form its field scans from: the timestamp as Unix microseconds,
// JSON documents as text.
func callSelectList() []string {
	cols := callColumns()
	out := make([]string, len(cols))
	for i, c := range cols {
		switch {
		case c == "timestamp":
			out[i] = `epoch_us("timestamp")`
		case jsonColumns[c]:
			out[i] = `CAST(` + quoteIdent(c) + ` AS VARCHAR)`
		default:
			out[i] = quoteIdent(c)
		}
	}
	return out
}

func readCalls(ctx context.Context, db *sql.DB, query string, args ...any) ([]Call, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Call
	dest := make([]any, len(callColumns()))
	for rows.Next() {
		out = append(out, Call{})
		v := reflect.ValueOf(&out[len(out)-1]).Elem()
		for i := range dest {
			dest[i] = v.Field(i).Addr().Interface() // NULL scans into a nil pointer field
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteIdents(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quoteIdent(s)
	}
	return out
}
