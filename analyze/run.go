package analyze

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/analyze/sensitive"
	"github.com/lessllm/lessllm/format"
)

// Options configure a Run. The zero value of each optional field is usable.
type Options struct {
	// Inputs are segment files and directories (walked recursively) from
	// any number of capture nodes. Sealed segments are analysed once;
	// segments still being written (.open) are analysed as far as their
	// complete frames go, provisionally (README "See your calls now").
	Inputs []string
	// DB is the DuckDB file; empty means ./lessllm.duckdb.
	DB string
	// Parquet is the root of the Parquet dataset; empty means a directory
	// "parquet" next to DB.
	Parquet string
	// Full re-analyses every segment, even those the ledger has.
	Full bool
	// Prices prices calls; nil means pricing.Default().
	Prices *pricing.Table
	// CacheRules are the prompt-cache rules; nil means promptcache.Default().
	CacheRules *promptcache.Table
	// NoCacheModel turns the prompt-cache model off (config cache.enabled:
	// false): the estimated cache columns stay NULL and cache_predictions
	// and cache_opportunities empty. Fingerprints are still kept, so a
	// later run with the model on fills everything in without --full.
	NoCacheModel bool
	// Sensitive finds secrets and personal data in prompts and responses;
	// nil means the default rules.
	Sensitive *sensitive.Scanner
	// KeepSensitive leaves what Sensitive finds in request_json and
	// response_json; by default each value is replaced by its masked
	// excerpt there (the segments keep the exchange as captured).
	KeepSensitive bool
	// Workers parse exchanges in parallel; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called about every 200 ms and once at the end.
	Progress func(Progress)
}

// Progress is a snapshot of a running analysis.
type Progress struct {
	Segments, SegmentsTotal int
	Records                 int64
	Bytes                   int64 // segment bytes read
	NDJSONBytes             int64 // record bytes decompressed
	Elapsed                 time.Duration
	Done                    bool
}

// Summary is what a Run did.
type Summary struct {
	DB, Parquet   string
	Segments      int      // analysed in this run
	AlreadyDone   int      // skipped: the ledger has their content
	Provisional   int      // .open segments (still being written, or left by a crash) read in this run
	Records       int64    // complete records read
	Rows          int64    // rows written to api_calls
	Bytes         int64    // segment bytes read
	NDJSONBytes   int64    // record bytes decompressed (what throughput is measured in)
	Problems      []string // damage found, one line each (also in analysis_problems)
	Elapsed       time.Duration
	UnknownModels map[string]int64 // model → calls in the database that have tokens but no price
	PriceVersion  string
	PriceNotes    []string
	// CacheReplayed is how many calls the prompt-cache model replayed: all
	// of them on a full run, those of the scopes new calls touch otherwise.
	CacheReplayed int
}

// Run analyses the segments under opts.Inputs into the database and the
// Parquet dataset. Damaged segments are analysed as far as they go and
// reported; only an error that makes the outputs unusable (the database or
// the Parquet directory) ends the run early.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	start := time.Now()
	if opts.DB == "" {
		opts.DB = "lessllm.duckdb"
	}
	if opts.Parquet == "" {
		opts.Parquet = filepath.Join(filepath.Dir(opts.DB), "parquet")
	}
	if opts.Prices == nil {
		opts.Prices = pricing.Default()
	}
	if opts.CacheRules == nil {
		opts.CacheRules = promptcache.Default()
	}
	if opts.Sensitive == nil {
		opts.Sensitive, _ = sensitive.New(nil, nil)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	sum := &Summary{DB: opts.DB, Parquet: opts.Parquet, UnknownModels: map[string]int64{}, PriceVersion: opts.Prices.Version}
	for _, in := range opts.Inputs {
		if _, err := os.Stat(in); err != nil {
			return nil, fmt.Errorf("input %w", err)
		}
	}
	all, err := format.ListSegments(opts.Inputs, true)
	if err != nil {
		return nil, err
	}
	sealedNames := map[string]bool{}
	for _, sf := range all {
		if sf.Sealed {
			sealedNames[filepath.Base(sf.Path)] = true
		}
	}
	if err := os.MkdirAll(tableDir(opts.Parquet), 0o700); err != nil {
		return nil, err
	}
	db, err := OpenDB(opts.DB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := ensureSchema(ctx, db, opts.Parquet); err != nil {
		return nil, err
	}
	done, err := analysed(ctx, db)
	if err != nil {
		return nil, err
	}
	// The passes after the loads are incremental: they look at what this
	// run loaded. A run that loaded segments and stopped before its passes
	// finished (killed, out of disk) leaves them to the next one, which
	// then passes over everything.
	interrupted, err := markPassesPending(ctx, db)
	if err != nil {
		return nil, err
	}

	a := &analyzer{opts: opts, x: &extractor{prices: opts.Prices, cache: opts.CacheRules, sensitive: opts.Sensitive, keepSensitive: opts.KeepSensitive}}
	a.progress.SegmentsTotal = len(all)
	stopTicker := a.tick(start)
	defer stopTicker()
	byName := map[string]string{} // segment name → content hash, from the ledger
	for id, name := range done {
		byName[name] = id
	}
	seen := map[string]bool{} // content analysed in this run (the same segment shipped under two paths)
	// A segment's rows are loaded into DuckDB while the next segment is
	// parsed: the load is mostly one DuckDB thread, the parse keeps every
	// core busy. Loads stay in segment order, one at a time.
	var inFlight *loading
	var runSegments []string           // the names of the segments loaded in this run
	since := int64(math.MaxInt64)      // the earliest start (Unix µs) of a call the run added or removed
	var lost int64                     // calls that left the database with an earlier copy of their segment
	defer func() { inFlight.wait() }() // on an early return
	loaded := func() error {
		sl, err := inFlight.wait()
		inFlight = nil
		if err != nil || sl == nil {
			return err
		}
		sum.Segments++
		runSegments = append(runSegments, sl.segment)
		if sl.earliest.Valid {
			since = min(since, sl.earliest.Int64)
		}
		lost += sl.lost
		sum.Records += sl.records
		sum.Rows += sl.rows
		sum.Bytes += sl.size
		for _, p := range sl.problems {
			at := ""
			if p.offset >= 0 {
				at = fmt.Sprintf(" at offset %d", p.offset)
			}
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s: %s%s: %s", sl.segment, p.kind, at, p.message))
		}
		a.segmentDone(0)
		return nil
	}
	for _, sf := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, ok := a.identify(sf, sum, done, byName, sealedNames, seen)
		if !ok {
			a.segmentDone(sf.Size)
			continue
		}
		sl, err := a.segment(ctx, sf)
		if err != nil {
			return nil, err
		}
		if sl.gone { // an .open file sealed or repaired between listing and opening: next run
			a.segmentDone(sf.Size)
			continue
		}
		sl.sha256 = id
		if !sf.Sealed {
			sum.Provisional++
		}
		if err := loaded(); err != nil {
			sl.removeTemp()
			return nil, err
		}
		inFlight = startLoad(ctx, db, sl)
	}
	if err := loaded(); err != nil {
		return nil, err
	}
	cacheSwitched, err := switchCacheModel(ctx, db, !opts.NoCacheModel)
	if err != nil {
		return nil, err
	}
	if sum.Segments > 0 || cacheSwitched || interrupted {
		everything := opts.Full || cacheSwitched || interrupted
		from := &since
		if everything {
			from = nil
		}
		changed := changedSegments{}
		if err := calibrate(ctx, db, opts.Prices, from, changed); err != nil {
			return nil, err
		}
		if opts.NoCacheModel {
			err = clearCacheResults(ctx, db, filepath.Dir(opts.DB), changed)
		} else {
			// Calls that left take their families' rows with them,
			// which only a replay of everything finds again.
			sum.CacheReplayed, err = replayCache(ctx, db, opts.CacheRules, opts.Prices, filepath.Dir(opts.DB), runSegments, everything || lost > 0, changed)
		}
		if err != nil {
			return nil, fmt.Errorf("prompt-cache model: %w", err)
		}
		// The dataset's files are written once the passes are done: those
		// of the segments this run loaded, and those of others whose rows
		// the passes changed. An interrupted run loaded segments without
		// writing their files: after it, every segment's are written.
		for _, seg := range runSegments {
			changed[seg] = true
		}
		if interrupted {
			if err := changed.addAll(ctx, db); err != nil {
				return nil, err
			}
		}
		if err := rewriteSegments(ctx, db, opts.Parquet, changed.sorted(), opts.Workers); err != nil {
			return nil, err
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM lessllm_meta WHERE key = 'passes_pending'`); err != nil {
		return nil, err
	}
	if sum.UnknownModels, err = unknownModels(ctx, db); err != nil {
		return nil, err
	}
	sum.PriceNotes = opts.Prices.Corrections
	sum.NDJSONBytes = a.ndjson.Load()
	sum.Elapsed = time.Since(start)
	stopTicker()
	return sum, nil
}

// identify returns the ledger key of a segment to analyse in this run, or
// false when it is to be skipped (already analysed, a damaged copy of an
// analysed one, unreadable — the last two reported in sum).
func (a *analyzer) identify(sf format.SegmentFile, sum *Summary, done, byName map[string]string, sealedNames, seen map[string]bool) (string, bool) {
	if !sf.Sealed {
		// Sealed meanwhile (and listed under its sealed name too): the
		// sealed file replaces whatever this one gave.
		if sealedNames[segmentName(sf)] {
			return "", false
		}
		id := provisionalID(sf)
		if !a.opts.Full && done[id] != "" { // nothing appended since the last run
			sum.AlreadyDone++
			return "", false
		}
		return id, true
	}
	id, intact, err := identity(sf.Path)
	if err != nil {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%s: %v (skipped)", sf.Path, err))
		return "", false
	}
	if seen[id] || (!a.opts.Full && done[id] != "") {
		sum.AlreadyDone++
		return "", false
	}
	// A damaged copy (a transfer cut short) of a segment already analysed
	// from an intact copy must not replace its rows.
	if prev, ok := byName[filepath.Base(sf.Path)]; ok && prev != id && !intact {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%s: a damaged copy of a segment already analysed; its earlier analysis is kept", sf.Path))
		return "", false
	}
	seen[id] = true
	return id, true
}

// segmentName is the name a segment's rows and ledger entry carry: the
// sealed file's, also while it is still .open, so that sealing replaces the
// provisional rows rather than adding to them.
func segmentName(sf format.SegmentFile) string {
	return strings.TrimSuffix(filepath.Base(sf.Path), format.OpenSuffix[len(format.SealedSuffix):])
}

// provisionalID is the ledger key of a segment still being written, as far
// as it was read: segments only grow, so its name and size say whether
// anything was appended since.
func provisionalID(sf format.SegmentFile) string {
	return fmt.Sprintf("open:%s:%d", segmentName(sf), sf.Size)
}

// identity is a segment's content hash: the footer's SHA-256 of every byte
// before it when the file ends in a footer (intact), else the hash of the
// whole file. (The reader verifies the footer's hash as it reads.)
func identity(path string) (id string, intact bool, err error) {
	if ft, err := format.ReadFooter(path); err == nil && ft.SHA256 != "" {
		return ft.SHA256, true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), false, nil
}

// analyzer carries the state of one Run.
type analyzer struct {
	opts Options
	x    *extractor

	mu       sync.Mutex
	progress Progress
	records  atomic.Int64
	ndjson   atomic.Int64
	bytes    atomic.Int64
}

// parsed is what workers make of a batch: rows, and the prompt
// fingerprints of the calls the cache model reads.
type parsed struct {
	calls    []Call
	prompts  []promptRow
	findings []findingRow
}

// batch is a run of raw records from one segment, slices of the decoded
// frames that hold them.
type batch struct {
	recs   [][]byte
	offs   []int64
	frames []*frame // each once, in order
}

// frame is a decoded data frame whose records are in flight: its buffer
// goes back to the pool when the reader has moved past it and the last
// batch holding one of its records is parsed. Segments are decoded into
// recycled buffers, not into new memory the runtime must zero and collect
// (BENCHMARKS.md §5).
type frame struct {
	buf  []byte
	refs atomic.Int32
}

var frames = sync.Pool{New: func() any { return new(frame) }}

func (f *frame) hold() { f.refs.Add(1) }

func (f *frame) release() {
	if f.refs.Add(-1) == 0 {
		frames.Put(f)
	}
}

const batchSize = 64

// segment analyses one sealed segment: a reader goroutine hands batches of
// records to Workers parsers; their rows go to a temporary Parquet file
// that the segment's load reads.
func (a *analyzer) segment(ctx context.Context, sf format.SegmentFile) (*segmentLoad, error) {
	name := segmentName(sf)
	sl := &segmentLoad{segment: name, path: sf.Path, size: sf.Size}
	r, err := format.Open(sf.Path)
	if err != nil {
		if !sf.Sealed && errors.Is(err, os.ErrNotExist) {
			sl.gone = true
			return sl, nil
		}
		sl.problems = append(sl.problems, problem{-1, "io", err.Error()})
		return sl, nil
	}
	defer r.Close()
	// The rows go to a temporary file for the load, not to the dataset:
	// the passes after the loads change them, and the dataset's files are
	// written once, from the database, after the passes (dataset.go). It
	// is read once, soon, from the page cache: not compressed.
	calls, err := newTempWriter[Call](filepath.Dir(a.opts.DB), ".api_calls-*.parquet", callSchema())
	if err != nil {
		return nil, err
	}
	// Records go to the workers without a copy, in recycled frames.
	var cur *frame // the frame the reader is in, held by it
	r.DecodeInto(func() []byte {
		if cur != nil {
			cur.release()
		}
		cur = frames.Get().(*frame)
		cur.refs.Store(1)
		return cur.buf
	})

	batches := make(chan batch, a.opts.Workers*2)
	results := make(chan parsed, a.opts.Workers*2)
	var perr sync.Mutex
	var recProblems []problem
	go func() {
		defer close(batches)
		defer func() {
			if cur != nil {
				cur.release()
			}
		}()
		var b batch
		var last int64
		for r.Next() {
			if n := len(b.frames); n == 0 || b.frames[n-1] != cur {
				cur.buf = r.Frame() // the buffer DecodeAll returned: grown if it had to
				cur.hold()
				b.frames = append(b.frames, cur)
			}
			b.recs = append(b.recs, r.Record())
			a.ndjson.Add(int64(len(r.Record()) + 1))
			b.offs = append(b.offs, r.Offset())
			if off := r.Offset(); off != last {
				a.bytes.Add(off - last)
				last = off
			}
			if len(b.recs) == batchSize {
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
				b = batch{}
			}
		}
		if len(b.recs) > 0 {
			batches <- b
		}
		a.bytes.Add(sf.Size - last)
	}()
	var wg sync.WaitGroup
	for range a.opts.Workers {
		wg.Go(func() {
			for b := range batches {
				out := parsed{calls: make([]Call, 0, len(b.recs))}
				for i, rec := range b.recs {
					ex, err := format.DecodeExchange(rec)
					if err != nil {
						perr.Lock()
						recProblems = append(recProblems, problem{b.offs[i], "record", "record is not a readable exchange: " + err.Error()})
						perr.Unlock()
						continue
					}
					c := a.x.call(ex, name)
					if p, ok := a.x.fingerprint(ex, &c); ok {
						out.prompts = append(out.prompts, p)
					}
					out.findings = a.x.findings(&c, out.findings)
					out.calls = append(out.calls, c)
				}
				a.records.Add(int64(len(b.recs)))
				for _, f := range b.frames {
					f.release()
				}
				results <- out
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var werr error
	var prompts []promptRow
	var findings []findingRow
	for out := range results {
		if werr == nil {
			werr = calls.WriteRows(out.calls)
		}
		sl.rows += int64(len(out.calls))
		prompts = append(prompts, out.prompts...)
		findings = append(findings, out.findings...)
	}
	if werr == nil {
		werr = ctx.Err()
	}
	if werr != nil {
		calls.remove()
		return nil, werr
	}
	if sl.calls, err = calls.close(); err != nil {
		calls.remove()
		return nil, err
	}
	if sl.rows == 0 {
		os.Remove(sl.calls)
		sl.calls = ""
	}
	if sl.prompts, err = writeTemp(filepath.Dir(a.opts.DB), ".cache_prompts-*.parquet", prompts); err != nil {
		sl.removeTemp()
		return nil, err
	}
	if sl.findings, err = writeTemp(filepath.Dir(a.opts.DB), ".sensitive_findings-*.parquet", findings); err != nil {
		sl.removeTemp()
		return nil, err
	}
	sl.records = r.Records()
	for _, d := range r.Damage() {
		if !sf.Sealed && d.Offset >= r.GoodEnd() {
			continue // the frame the writer is appending right now
		}
		sl.problems = append(sl.problems, problem{d.Offset, "corruption", d.Err.Error()})
	}
	if err := r.Err(); err != nil && !errors.As(err, new(*format.CorruptionError)) {
		sl.problems = append(sl.problems, problem{-1, "io", err.Error()})
	}
	sort.Slice(recProblems, func(i, j int) bool { return recProblems[i].offset < recProblems[j].offset })
	sl.problems = append(sl.problems, recProblems...)
	return sl, nil
}

func (a *analyzer) segmentDone(skippedBytes int64) {
	a.mu.Lock()
	a.progress.Segments++
	a.mu.Unlock()
	a.bytes.Add(skippedBytes)
}

// tick reports progress every 200 ms until the returned func is called
// (which reports once more, as done; calling it again does nothing).
func (a *analyzer) tick(start time.Time) func() {
	if a.opts.Progress == nil {
		return func() {}
	}
	report := func(done bool) {
		a.mu.Lock()
		p := a.progress
		a.mu.Unlock()
		p.Records, p.Bytes, p.NDJSONBytes, p.Elapsed, p.Done = a.records.Load(), a.bytes.Load(), a.ndjson.Load(), time.Since(start), done
		a.opts.Progress(p)
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report(false)
			case <-stop:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-finished
			report(true)
		})
	}
}

// markPassesPending records that this run's passes are still to come and
// reports whether an earlier run's were (it stopped between its loads and
// the end of its passes).
func markPassesPending(ctx context.Context, db *sql.DB) (bool, error) {
	var was string
	err := db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'passes_pending'`).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('passes_pending', 'yes')`)
	return was != "", err
}
