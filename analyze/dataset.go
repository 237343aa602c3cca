package analyze

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// The Parquet dataset is complete: every file holds what api_calls holds
// for its rows, the dataset-wide columns included. A segment's rows are
// loaded from a temporary file written while it is parsed; the passes over
// other calls (calibrate, replayCache) then fill the columns that depend
// on them, writing only rows whose values change and collecting those
// rows' segments (UPDATE … RETURNING). The files of the segments the run
// loaded and of those the passes changed are written from the database
// after the passes — once per run (README "Reading the outputs
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

// addAll adds every segment that has rows.
func (c changedSegments) addAll(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT segment FROM api_calls`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seg string
		if err := rows.Scan(&seg); err != nil {
			return err
		}
		c[seg] = true
	}
	return rows.Err()
}

func (c changedSegments) sorted() []string { return slices.Sorted(maps.Keys(c)) }

// rewriteSegments writes the Parquet files of segments from their rows in
// the database, as many segments at once as there are workers. Each is
// streamed: one goroutine scans its rows out of DuckDB while another
// encodes them, so a single segment keeps two cores busy too.
func rewriteSegments(ctx context.Context, db *sql.DB, root string, segments []string, workers int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for _, seg := range segments {
		g.Go(func() error { return rewriteSegment(ctx, db, root, seg) })
	}
	return g.Wait()
}

func rewriteSegment(ctx context.Context, db *sql.DB, root, segment string) error {
	query := `SELECT ` + strings.Join(callSelectList(), ", ") + ` FROM api_calls WHERE segment = ? ORDER BY "timestamp", request_id`
	batches := make(chan []Call, 2)
	var scanErr error
	go func() {
		defer close(batches)
		scanErr = scanCalls(ctx, db, query, func(b []Call) bool {
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}, segment)
	}()
	pw := newPartitionWriter(root, segment)
	var err error
	for b := range batches {
		if err == nil {
			err = pw.Write(b)
		}
	}
	if err == nil {
		err = cmp.Or(scanErr, ctx.Err())
	}
	if err == nil {
		_, err = pw.Commit()
	} else {
		pw.Abort()
	}
	if err != nil {
		return fmt.Errorf("write the parquet files of %s: %w", segment, err)
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

// scanCalls runs query and hands its rows, as Calls, to batch in batches
// of up to 256, until batch returns false.
func scanCalls(ctx context.Context, db *sql.DB, query string, batch func([]Call) bool, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	const size = 256
	out := make([]Call, 0, size)
	dest := make([]any, len(callColumns()))
	for rows.Next() {
		out = append(out, Call{})
		v := reflect.ValueOf(&out[len(out)-1]).Elem()
		for i := range dest {
			dest[i] = v.Field(i).Addr().Interface() // NULL scans into a nil pointer field
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if len(out) == size {
			if !batch(out) {
				return nil
			}
			out = make([]Call, 0, size)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(out) > 0 {
		batch(out)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteIdents(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quoteIdent(s)
	}
	return out
}
