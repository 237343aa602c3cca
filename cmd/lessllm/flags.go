package main

import (
	"os"

	"github.com/lessllm/lessllm/capture/config"
)

// The flags several commands share are declared here once, as structs the
// commands embed; the config file is the root's --config, loaded once by
// main and handed to each command's Run as a *config.File.

// loadConfig reads path, or ./lessllm.yaml when path is empty and the file
// exists, or returns the defaults.
func loadConfig(path string) (*config.File, error) {
	if path == "" {
		if _, err := os.Stat("lessllm.yaml"); err != nil {
			return config.Default(), nil
		}
		path = "lessllm.yaml"
	}
	return config.Load(path)
}

// dbFlags name the analysis database.
type dbFlags struct {
	DB string `name:"db" help:"DuckDB file. Default: the config's logging.db_path, else ./lessllm.duckdb." default:"" env:"LESSLLM_DB" type:"path"`
}

// dbFile is the --db flag, else the config's logging.db_path, else
// ./lessllm.duckdb.
func (d dbFlags) dbFile(cfg *config.File) string {
	if d.DB != "" {
		return d.DB
	}
	if cfg.Logging.DBPath != "" {
		return cfg.Logging.DBPath
	}
	return "lessllm.duckdb"
}

// resultFormat is how query, stats and cache print a result.
type resultFormat struct {
	Format string `help:"Output format: table, csv, json (an array of objects), json-typed (columns, DuckDB types and rows, for programs) or markdown." enum:"table,csv,json,json-typed,markdown" default:"table" env:"LESSLLM_FORMAT"`
}
