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
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// The Parquet dataset is complete: every file holds what api_calls holds
// for its rows, the dataset-wide columns included. A segment's rows are
// loaded from a temporary file written while it is parsed; the passes over
// other calls (calibrate, replayCache) then fill the columns that depend
// on them, writing only rows whose values change and collecting those
// rows' segments (changedSegments.update). The files of the segments the run
// loaded and of those the passes changed are written from the database
// after the passes — once per run (README "Reading the outputs
// elsewhere").

// changedSegments collects the segments whose rows a pass changed.
type changedSegments map[string]bool

// rowUpdate is an UPDATE of api_calls in parts: [with] UPDATE api_calls
// SET set [FROM from] WHERE where. where must hold only for the rows whose
// values change.
type rowUpdate struct {
	with, set, from, where string
}

// execQuerier is the database, a connection or a transaction.
type execQuerier interface {
	querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// update adds the segments of the rows u changes, then runs it (nothing
// when no row changes). The segments are selected before the UPDATE with
// its own FROM and WHERE, not returned by it: UPDATE … RETURNING took ten
// times the UPDATE's time for 3,000 rows (BENCHMARKS.md §5).
func (c changedSegments) update(ctx context.Context, q execQuerier, u rowUpdate, args ...any) error {
	from, join := "", ""
	if u.from != "" {
		from, join = " FROM "+u.from, ", "+u.from
	}
	rows, err := q.QueryContext(ctx, u.with+` SELECT DISTINCT api_calls.segment FROM api_calls`+join+` WHERE `+u.where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var seg sql.NullString
		if err := rows.Scan(&seg); err != nil {
			return err
		}
		c[seg.String], found = true, true
	}
	if err := rows.Err(); err != nil || !found {
		return err
	}
	rows.Close()
	_, err = q.ExecContext(ctx, u.with+` UPDATE api_calls SET `+u.set+from+` WHERE `+u.where, args...)
	return err
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
//
// Once every segment's rows are read out, the database is checkpointed
// while the files are still being encoded: the checkpoint compresses what
// the loads left in the write-ahead log, on one core, which the close
// would otherwise do alone after the files (BENCHMARKS.md §5). CHECKPOINT
// fails while a transaction is open: by then the passes are done and the
// scans have ended.
func rewriteSegments(ctx context.Context, db *sql.DB, root string, segments []string, workers int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	var scans sync.WaitGroup
	scans.Add(len(segments))
	checkpointed := make(chan error, 1)
	go func() {
		scans.Wait()
		// ctx, not gctx: the group's context ends when the files are
		// written, which may be before the checkpoint is.
		_, err := db.ExecContext(ctx, `CHECKPOINT`)
		if err != nil {
			err = fmt.Errorf("checkpoint: %w", err)
		}
		checkpointed <- err
	}()
	for _, seg := range segments {
		g.Go(func() error { return rewriteSegment(gctx, db, root, seg, scans.Done) })
	}
	err := g.Wait()
	return cmp.Or(err, <-checkpointed)
}

// readAhead bounds what one segment's scan holds ahead of its encoder, in
// bytes of its rows' text: a segment of the usual size (BENCHMARKS.md §5:
// 3,000 calls, 8 MB of JSON) is read out whole while its first pages are
// encoded, so the checkpoint can begin; a segment of long prompts waits
// for its encoder instead of filling memory.
const readAhead = 64 << 20

// rewriteSegment writes one segment's files; scanned is called once its
// rows are read out of the database (or the scan failed).
func rewriteSegment(ctx context.Context, db *sql.DB, root, segment string, scanned func()) error {
	query := `SELECT ` + strings.Join(callSelectList(), ", ") + ` FROM api_calls WHERE segment = ? ORDER BY "timestamp", request_id`
	type batch struct {
		calls []Call
		size  int64
	}
	ahead := semaphore.NewWeighted(readAhead)
	batches := make(chan batch, readAhead/scanBatch/(1<<10)) // never full: a batch weighs at least 1 KiB a row
	var scanErr error
	go func() {
		defer scanned()
		defer close(batches)
		scanErr = scanCalls(ctx, db, query, func(calls []Call) bool {
			b := batch{calls, min(textBytes(calls), readAhead)}
			if ahead.Acquire(ctx, b.size) != nil {
				return false
			}
			batches <- b
			return true
		}, segment)
	}()
	pw := newPartitionWriter(root, segment)
	var err error
	for b := range batches {
		if err == nil {
			err = pw.Write(b.calls)
		}
		ahead.Release(b.size)
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

// textBytes weighs calls for readAhead: their JSON documents and texts,
// and 1 KiB a row for the rest.
func textBytes(calls []Call) int64 {
	n := int64(len(calls)) << 10
	for i := range calls {
		for _, s := range []*string{calls[i].RequestJSON, calls[i].ResponseJSON, calls[i].ErrorMessage, calls[i].Problems} {
			if s != nil {
				n += int64(len(*s))
			}
		}
	}
	return n
}

// scanBatch is how many rows scanCalls hands over at a time.
const scanBatch = 256

// scanCalls runs query and hands its rows, as Calls, to batch in batches
// of up to scanBatch, until batch returns false.
func scanCalls(ctx context.Context, db *sql.DB, query string, batch func([]Call) bool, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := make([]Call, 0, scanBatch)
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
		if len(out) == scanBatch {
			if !batch(out) {
				return nil
			}
			out = make([]Call, 0, scanBatch)
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
