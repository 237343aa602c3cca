// Package format is the lessllm segment format: how captured exchanges are
// stored on disk, shipped between machines and read back (SPEC.md).
//
// A segment is a zstd stream of NDJSON, one Exchange per line, readable with
// zstdcat, jq and DuckDB alone. Writer appends, rotates and seals segments;
// Reader yields every verified record of a file and reports damage as
// *CorruptionError; Repair turns a crashed writer's .open file into a sealed
// segment. Readers detect, only Repair changes files.
//
// This package depends on the standard library and klauspost/compress only,
// so that the capture hot path and shipped-segment readers stay small.
package format
