package analyze

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// The database holds:
//
//	api_calls            one row per exchange (Call; loaded from the Parquet files)
//	analyzed_segments    the ledger: one row per segment content analysed
//	analysis_problems    damage found in segments (torn frames, records that are not JSON)
//	lessllm_meta         schema_version, the price table's version, and what the last
//	                     replay and calibration depended on (cache.go, calibrate.go)
//	cache_prompts        prompt fingerprints the cache model replays (cache.go)
//	cache_predictions    the cache model's result per call
//	cache_checkpoints    the cache state of large scopes, where the next replay starts
//	cache_family_calls   what a prompt family's row needs of each call (cache_families.go)
//	cache_opportunities  prompt families that miss the cache, and the saving a fix would bring
//	cache_accuracy       view: predicted vs actual hits per provider and model
//	sensitive_findings   secrets and personal data found in prompts and responses (masked; findings.go)
//	cache_cost           view: cost paid, without cache, and with every predicted hit
//
// ARCHITECTURE.md §5.

const ledgerDDL = `
CREATE TABLE IF NOT EXISTS lessllm_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS analyzed_segments (
	sha256 VARCHAR PRIMARY KEY,  -- identity of the content: a copy under another path or name is the same segment
	segment VARCHAR NOT NULL,    -- file name
	path VARCHAR NOT NULL,       -- where it was read this time
	size_bytes BIGINT NOT NULL,
	records BIGINT NOT NULL,     -- complete records read
	rows BIGINT NOT NULL,        -- rows added to api_calls
	damaged BIGINT NOT NULL,     -- damage reports (see analysis_problems)
	analyzed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS analysis_problems (
	segment VARCHAR NOT NULL,
	"offset" BIGINT,             -- byte offset in the segment file
	kind VARCHAR NOT NULL,       -- corruption | record | io
	message VARCHAR NOT NULL
);`

// OpenDB opens (creating if needed) an analysis database for writing.
func OpenDB(path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The database holds prompts and responses, like the segments: owner only.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, err
	}
	// DuckDB takes 80% of the machine's memory by default, and the
	// analyzer's workers and replay live beside it: half, and DuckDB spills
	// to disk beyond (a million calls with long prompts were killed for
	// memory at 80%).
	if total := physicalMemory(); total > 0 {
		if _, err := db.Exec(fmt.Sprintf(`SET memory_limit = '%dMB'`, total/2>>20)); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// physicalMemory is the machine's memory in bytes (Linux), or 0.
func physicalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// OpenReadOnly opens an existing analysis database for queries only.
func OpenReadOnly(path string) (*sql.DB, error) {
	return openReadOnly(path, "")
}

// sandboxOptions confine a connection to the database it opened. A
// read-only DuckDB still runs COPY … TO a file, ATTACH … (READ_WRITE) of
// another database, INSTALL from a custom repository (outbound HTTP) and
// LOAD; with external access off nothing outside the opened file is read
// or written, extensions are neither installed nor loaded automatically,
// and the locked configuration cannot be switched back by SET.
const sandboxOptions = "&enable_external_access=false&autoinstall_known_extensions=false" +
	"&autoload_known_extensions=false&lock_configuration=true"

// OpenSandboxed opens an existing analysis database for SQL a user wrote
// (lessllm query, the Python package): read-only, and unable to touch any
// file, database, extension or setting beyond it (sandboxOptions).
// Errors of refused statements are explained by SandboxError.
func OpenSandboxed(path string) (*sql.DB, error) {
	return openReadOnly(path, sandboxOptions)
}

// SandboxError explains an error of a statement the sandbox refused;
// other errors come back unchanged.
func SandboxError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range []string{"disabled by configuration", "configuration has been locked", "attached in read-only mode", "disabled through configuration"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("refused: queries are read-only and confined to the analysis database — no writing files (COPY … TO, EXPORT), attaching databases, installing or loading extensions, or changing settings (SET); use `lessllm export` to write files (%w)", err)
		}
	}
	return err
}

func openReadOnly(path, options string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: no analysis database (run `lessllm analyze DIR` first): %w", path, err)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY"+options)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// ensureSchema creates the tables on first use and refuses a database
// written with another schema version.
func ensureSchema(ctx context.Context, db *sql.DB, scratch string) error {
	if _, err := db.ExecContext(ctx, ledgerDDL+cacheDDL+findingsDDL); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	var v string
	err := db.QueryRowContext(ctx, `SELECT value FROM lessllm_meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case v != strconv.Itoa(SchemaVersion):
		return fmt.Errorf("database has api_calls schema version %s, this build writes %d: analyse into a new database (--db) with --full", v, SchemaVersion)
	default:
		_, err := db.ExecContext(ctx, cacheAccuracyDDL+cacheCostDDL)
		return err
	}
	// api_calls takes its columns from an empty Parquet file written from
	// Call, so the table and the Parquet dataset cannot drift apart.
	empty := filepath.Join(scratch, "empty-api_calls.parquet")
	f, err := os.Create(empty)
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[Call](f, callSchema())
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	defer os.Remove(empty)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS api_calls AS SELECT `+strings.Join(callColumns(), ", ")+` FROM read_parquet(`+quote(empty)+`) LIMIT 0`); err != nil {
		return fmt.Errorf("create api_calls: %w", err)
	}
	if _, err := db.ExecContext(ctx, cacheAccuracyDDL+cacheCostDDL); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT OR REPLACE INTO lessllm_meta VALUES ('schema_version', ?)`, strconv.Itoa(SchemaVersion))
	return err
}

// segmentLoad is what one analysed segment contributes to the database.
type segmentLoad struct {
	sha256, segment, path string
	earliest              sql.NullInt64 // set by load: the earliest start (Unix µs) of the rows it replaced or added
	lost                  int64         // set by load: calls of the segment's earlier copy that this one lacks
	size, records, rows   int64
	calls                 string // temporary Parquet file of its api_calls rows ("" for none)
	prompts               string // temporary Parquet file of its cache_prompts rows
	findings              string // temporary Parquet file of its sensitive_findings rows
	problems              []problem
	gone                  bool // an .open file sealed or repaired before it could be opened
}

type problem struct {
	offset  int64 // -1: not at a known offset
	kind    string
	message string
}

// removeTemp deletes the segment's temporary side-table files.
func (s *segmentLoad) removeTemp() {
	for _, tmp := range []string{s.calls, s.prompts, s.findings} {
		if tmp != "" {
			os.Remove(tmp)
		}
	}
}

// loading is a load running in the background; the nil *loading is none.
type loading struct {
	sl   *segmentLoad
	done chan error
}

func startLoad(ctx context.Context, db *sql.DB, sl *segmentLoad) *loading {
	l := &loading{sl: sl, done: make(chan error, 1)}
	go func() {
		err := load(ctx, db, sl)
		sl.removeTemp()
		l.done <- err
	}()
	return l
}

// wait returns the loaded segment, or the load's error. Called again, or
// on the nil *loading, it returns nothing.
func (l *loading) wait() (*segmentLoad, error) {
	if l == nil || l.done == nil {
		return nil, nil
	}
	err := <-l.done
	l.done = nil
	return l.sl, err
}

// load replaces a segment's rows and ledger entry in one transaction.
func load(ctx context.Context, db *sql.DB, s *segmentLoad) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The earliest call the load adds or removes: the calls from there on
	// are the ones calibrate must look at again.
	earliest := `SELECT min(` + utcMicros + `) FROM api_calls WHERE segment = ?`
	if err := tx.QueryRowContext(ctx, earliest, s.segment).Scan(&s.earliest); err != nil {
		return err
	}
	// Calls of an earlier copy that this one lacks leave the database (a
	// new segment has none: nothing to count or delete).
	if s.earliest.Valid {
		lost := `SELECT count(*) FROM api_calls WHERE segment = ?`
		if s.calls != "" {
			lost += ` AND request_id NOT IN (SELECT request_id FROM read_parquet(` + quote(s.calls) + `))`
		}
		if err := tx.QueryRowContext(ctx, lost, s.segment).Scan(&s.lost); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_calls WHERE segment = ?`, s.segment); err != nil {
			return err
		}
	}
	if s.calls != "" {
		q := `INSERT INTO api_calls BY NAME SELECT * FROM read_parquet(` + quote(s.calls) + `)`
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("load %s: %w", s.segment, err)
		}
		var added sql.NullInt64
		if err := tx.QueryRowContext(ctx, earliest, s.segment).Scan(&added); err != nil {
			return err
		}
		if added.Valid && (!s.earliest.Valid || added.Int64 < s.earliest.Int64) {
			s.earliest = added
		}
	}
	for _, side := range []struct{ table, file string }{{"cache_prompts", s.prompts}, {"sensitive_findings", s.findings}} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+side.table+` WHERE segment = ?`, s.segment); err != nil {
			return err
		}
		if side.file != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+side.table+` BY NAME SELECT * FROM read_parquet(`+quote(side.file)+`)`); err != nil {
				return fmt.Errorf("load %s: %s: %w", s.segment, side.table, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM analysis_problems WHERE segment = ?`, s.segment); err != nil {
		return err
	}
	for _, p := range s.problems {
		var off any
		if p.offset >= 0 {
			off = p.offset
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO analysis_problems VALUES (?, ?, ?, ?)`, s.segment, off, p.kind, p.message); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM analyzed_segments WHERE segment = ? OR sha256 = ?`, s.segment, s.sha256); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO analyzed_segments VALUES (?, ?, ?, ?, ?, ?, ?, now())`,
		s.sha256, s.segment, s.path, s.size, s.records, s.rows, int64(len(s.problems))); err != nil {
		return err
	}
	return tx.Commit()
}

// analysed returns the ledger: segment content hashes already analysed.
func analysed(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT sha256, segment FROM analyzed_segments`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var sha, seg string
		if err := rows.Scan(&sha, &seg); err != nil {
			return nil, err
		}
		out[sha] = seg
	}
	return out, rows.Err()
}

// quote makes s a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// unknownModels counts, per model, the calls that have token counts but no
// price: the table does not know the model and no override names it.
func unknownModels(ctx context.Context, db *sql.DB) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+lookedUp+`, count(*) FROM api_calls
		WHERE estimated_cost_usd IS NULL AND usage_source <> 'none' GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var m string
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			return nil, err
		}
		out[m] = n
	}
	return out, rows.Err()
}
