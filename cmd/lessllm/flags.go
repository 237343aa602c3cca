package main

import (
	"os"

	"github.com/lessllm/lessllm/analyze/budget"
	"github.com/lessllm/lessllm/analyze/pricing"
	"github.com/lessllm/lessllm/analyze/promptcache"
	"github.com/lessllm/lessllm/analyze/sensitive"
	"github.com/lessllm/lessllm/capture/config"
)

// The flags several commands share are declared here once, as structs the
// commands embed; the config file is the root's --config, loaded once by
// main and handed to each command's Run as a *Config.

// Config is lessllm.yaml as lessllm reads it: the capture side's sections
// and the analysis sections, each declared, defaulted and validated by the
// package that uses it (format/configfile composes them; ARCHITECTURE.md
// §6). This list is the file's schema: cmd is the one place allowed to see
// both capture and analyze.
type Config struct {
	*config.File
	Prices     pricing.Config
	CacheModel promptcache.Config
	Sensitive  sensitive.Config
	Budgets    budget.Config
}

// loadConfig reads path, or ./lessllm.yaml when path is empty and the file
// exists, or returns the defaults.
func loadConfig(path string) (*Config, error) {
	if path == "" {
		if _, err := os.Stat("lessllm.yaml"); err != nil {
			return &Config{File: config.Default()}, nil
		}
		path = "lessllm.yaml"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, data)
}

// parseConfig reads YAML data (named path in errors) into every section.
func parseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{}
	f, err := config.Parse(path, data, cfg.analysisSections()...)
	if err != nil {
		return nil, err
	}
	cfg.File = f
	return cfg, nil
}

// analysisSections are the sections config.Parse decodes beside its own.
func (c *Config) analysisSections() []any {
	return []any{&c.Prices, &c.CacheModel, &c.Sensitive, &c.Budgets}
}

// dbFlags name the analysis database.
type dbFlags struct {
	DB string `name:"db" help:"DuckDB file. Default: the config's logging.db_path, else ./lessllm.duckdb." default:"" env:"LESSLLM_DB" type:"path"`
}

// dbFile is the --db flag, else the config's logging.db_path, else
// ./lessllm.duckdb.
func (d dbFlags) dbFile(cfg *Config) string {
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
