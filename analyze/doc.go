// Package analyze turns capture segments into analysis: one row per
// exchange in table api_calls of a DuckDB file, and the same rows in a
// Hive-partitioned Parquet dataset (date=YYYY-MM-DD/<segment>.parquet).
//
// Run reads segments — sealed ones once (a ledger of their content hashes),
// and the complete frames of segments still being written, provisionally —
// and sends their records to parallel workers that decode each exchange
// (content codings included), reassemble streams and extract the row:
// tokens as the API reported them or estimated, cost from the embedded
// price table, TTFT/TPOT/ITL, connection timings, the prompt fingerprint of
// the cache model and the sensitive-data findings. A segment's rows are
// loaded into DuckDB in one transaction (from a temporary file); then the
// passes over other calls fill what depends on them (modeled TTFT/TPOT,
// the Claude token scale, the network split, the prompt-cache replay and
// its families) — incrementally: each value depends only on earlier calls
// or resumes from a checkpoint, so a run computes its own calls with the
// result of one full run — and the Parquet files of the segments the run
// loaded, and of those whose rows the passes changed, are written from the
// database.
// Damage and hostile content never stop a run: they are reported in
// analysis_problems and the row's problems.
//
// Query, Export and Stats read the results; OpenSandboxed opens the
// database for SQL a user wrote. docs/ARCHITECTURE.md §5 has the data flow;
// the README the columns and their definitions.
package analyze
