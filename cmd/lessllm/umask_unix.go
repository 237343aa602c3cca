//go:build unix

package main

import "syscall"

// ownerOnly makes every file this process creates owner-only. Segments,
// the analysis database, the WAL DuckDB writes beside it, Parquet files,
// exports and reports all hold prompts or their analysis; DuckDB creates
// its files itself, so only the process's umask reaches all of them.
func ownerOnly() { syscall.Umask(0o077) }
