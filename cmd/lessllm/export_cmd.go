//go:build cgo

// The analysis commands need DuckDB, hence cgo: see build.go.

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lessllm/lessllm/analyze"
)

// ExportCmd writes analysed calls to one Parquet or CSV file.
type ExportCmd struct {
	Out    string   `help:"File to write." required:"" type:"path"`
	Since  string   `help:"Only calls received at or after this time (YYYY-MM-DD, UTC, or RFC 3339)." default:"" env:"LESSLLM_SINCE"`
	Until  string   `help:"Only calls received before this time (YYYY-MM-DD, UTC, or RFC 3339)." default:"" env:"LESSLLM_UNTIL"`
	Model  []string `help:"Only these models (repeatable); a family name matches its dated snapshots: gpt-4 matches gpt-4-0613, not gpt-4o." default:"" env:"LESSLLM_MODEL"`
	User   []string `help:"Only these user_id values (repeatable)." default:"" env:"LESSLLM_USER"`
	Format string   `help:"parquet or csv. Default: from the file's extension, else parquet." enum:",parquet,csv" default:"" env:"LESSLLM_EXPORT_FORMAT"`
	dbFlags
	freshFlags
}

func (c *ExportCmd) Run(env *Env, cfg *Config) error {
	f := analyze.Filter{Models: nonEmpty(c.Model), Users: nonEmpty(c.User)}
	var err error
	if f.Since, err = parseTime("--since", c.Since); err != nil {
		return err
	}
	if f.Until, err = parseTime("--until", c.Until); err != nil {
		return err
	}
	format := c.Format
	if format == "" {
		format = analyze.ExportParquet
		if strings.EqualFold(filepath.Ext(c.Out), ".csv") {
			format = analyze.ExportCSV
		}
	}
	path, err := c.database(cfg, c.dbFlags)
	if err != nil {
		return err
	}
	// Read-only, not sandboxed: the export itself writes a file (COPY … TO).
	db, err := analyze.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := analyze.Export(context.Background(), db, c.Out, format, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "exported %d call%s to %s (%s)\n", n, plural(int(n)), c.Out, format)
	return nil
}

// parseTime reads a flag's time: a UTC date or an RFC 3339 time.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &exitError{code: 2, msg: fmt.Sprintf("%s %q: want YYYY-MM-DD or an RFC 3339 time such as 2024-01-01T09:00:00Z", flag, s)}
	}
	return t, nil
}

func nonEmpty(v []string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
