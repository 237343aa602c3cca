package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Filter selects calls for export and stats. Zero fields select everything.
type Filter struct {
	Since, Until time.Time // request received in [Since, Until)
	// Models match the model as asked, as sent upstream or as answered,
	// exactly or as a family: "gpt-4" matches "gpt-4" and "gpt-4-0613" (a
	// dash follows), not "gpt-4o".
	Models []string
	Users  []string // user_id
}

// where renders f as a SQL condition with its arguments.
func (f Filter) where() (string, []any) {
	conds := []string{"TRUE"}
	var args []any
	if !f.Since.IsZero() {
		conds = append(conds, "timestamp >= ?")
		args = append(args, f.Since)
	}
	if !f.Until.IsZero() {
		conds = append(conds, "timestamp < ?")
		args = append(args, f.Until)
	}
	if len(f.Models) > 0 {
		var or []string
		for _, m := range f.Models {
			for _, col := range []string{"model", "upstream_model", "response_model"} {
				or = append(or, fmt.Sprintf("(%s = ? OR starts_with(%s, ?))", col, col))
				args = append(args, m, m+"-")
			}
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	if len(f.Users) > 0 {
		conds = append(conds, "user_id IN (?"+strings.Repeat(", ?", len(f.Users)-1)+")")
		for _, u := range f.Users {
			args = append(args, u)
		}
	}
	return strings.Join(conds, " AND "), args
}

// Export formats.
const (
	ExportParquet = "parquet"
	ExportCSV     = "csv"
)

// Export writes the calls f selects to out as Parquet (zstd) or CSV, in
// time order, and returns how many it wrote.
func Export(ctx context.Context, db *sql.DB, out, format string, f Filter) (int64, error) {
	var opts string
	switch format {
	case ExportParquet:
		// The same key/value metadata as the dataset's files (parquet.go),
		// so a reader can tell which api_calls schema an export holds.
		opts = fmt.Sprintf("FORMAT parquet, COMPRESSION zstd, KV_METADATA {'lessllm.schema_version': '%d', 'lessllm.table': 'api_calls'}", SchemaVersion)
	case ExportCSV:
		opts = "FORMAT csv, HEADER true"
	default:
		return 0, fmt.Errorf("unknown export format %q (want parquet or csv)", format)
	}
	cond, args := f.where()
	// COPY cannot take parameters: the filter goes into a temporary view
	// first, which can.
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM api_calls WHERE "+cond, args...).Scan(&n); err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	lit := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			lit[i] = "TIMESTAMPTZ " + quote(v.UTC().Format(time.RFC3339Nano))
		default:
			lit[i] = quote(fmt.Sprint(v))
		}
	}
	q := "COPY (SELECT * FROM api_calls WHERE " + bind(cond, lit) + " ORDER BY timestamp, request_id) TO " + quote(out) + " (" + opts + ")"
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return 0, fmt.Errorf("export to %s: %w", out, err)
	}
	return n, nil
}

// bind replaces each ? in cond by the next literal. The literals are
// quoted by quote; cond is ours and holds no other '?'.
func bind(cond string, lit []string) string {
	var b strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' && i < len(lit) {
			b.WriteString(lit[i])
			i++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
