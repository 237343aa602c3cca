package analyze

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// The Parquet dataset is complete: every file holds what api_calls holds
// for its rows, the dataset-wide columns included. A segment's files are
// written while it is parsed, before the passes over other calls
// (calibrate, replayCache) fill the columns that depend on them; the
// passes write only rows whose values change and collect those rows'
// segments (UPDATE … RETURNING), and the files of those segments are
// written again from the database (README "Reading the outputs
// elsewhere").

// changedSegments collects the segments whose rows a pass changed.
type changedSegments map[string]bool

// update runs an UPDATE of api_calls through q and adds the segments of
// the rows it wrote.
func (c changedSegments) update(ctx context.Context, q querier, update string, args ...any) error {
	rows, err := q.QueryContext(ctx, update+` RETURNING api_calls.segment`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seg sql.NullString
		if err := rows.Scan(&seg); err != nil {
			return err
		}
		c[seg.String] = true
	}
	return rows.Err()
}

func (c changedSegments) sorted() []string { return slices.Sorted(maps.Keys(c)) }

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
