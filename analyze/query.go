package analyze

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Result is the answer to a query: column names, their DuckDB types
// ("BIGINT", "TIMESTAMP WITH TIME ZONE", "DECIMAL(18,3)"; "" where a
// result was built by hand) and rows of Go values (nil for NULL).
type Result struct {
	Columns []string
	Types   []string
	Rows    [][]any
}

// Query runs sql against db and collects the answer. Open db with
// OpenReadOnly for user-supplied SQL.
func Query(ctx context.Context, db *sql.DB, query string, args ...any) (*Result, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Types: make([]string, len(cols))}
	if types, err := rows.ColumnTypes(); err == nil {
		for i, t := range types {
			res.Types[i] = t.DatabaseTypeName()
		}
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// Output formats of Result.Write.
const (
	FormatTable    = "table"
	FormatCSV      = "csv"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	// FormatJSONTyped is for programs (the Python package reads it): one
	// object with the columns in order, their DuckDB types and the rows
	// as arrays; see writeJSONTyped for how each type is written.
	FormatJSONTyped = "json-typed"
)

// Formats are the names Result.Write takes, for flag enums and help text.
var Formats = []string{FormatTable, FormatCSV, FormatJSON, FormatJSONTyped, FormatMarkdown}

// Write renders the result: an aligned text table, CSV (RFC 4180, header
// row), JSON (an array of objects), typed JSON (FormatJSONTyped), or a
// Markdown table.
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable, "":
		return r.writeTable(w, false)
	case FormatMarkdown:
		return r.writeTable(w, true)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(r.Columns)
		rec := make([]string, len(r.Columns))
		for _, row := range r.Rows {
			for i, v := range row {
				rec[i] = cell(v, "")
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		out := make([]map[string]any, len(r.Rows))
		for i, row := range r.Rows {
			m := make(map[string]any, len(row))
			for j, v := range row {
				m[r.Columns[j]] = jsonValue(v)
			}
			out[i] = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case FormatJSONTyped:
		return r.writeJSONTyped(w)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func (r *Result) writeTable(w io.Writer, markdown bool) error {
	null := "NULL"
	if markdown {
		null = ""
	}
	cells := make([][]string, len(r.Rows))
	width := make([]int, len(r.Columns))
	numeric := make([]bool, len(r.Columns))
	for i, c := range r.Columns {
		width[i] = utf8.RuneCountInString(c)
		numeric[i] = true
	}
	for i, row := range r.Rows {
		cells[i] = make([]string, len(row))
		for j, v := range row {
			s := Printable(cell(v, null))
			if markdown {
				s = strings.ReplaceAll(s, "|", `\|`)
			}
			if !markdown && utf8.RuneCountInString(s) > 80 {
				s = string([]rune(s)[:77]) + "..." // whole characters, never half of one
			}
			cells[i][j] = s
			width[j] = max(width[j], utf8.RuneCountInString(s))
			if v != nil && !isNumber(v) {
				numeric[j] = false
			}
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		if markdown {
			b.WriteString("| ")
		}
		for i, v := range vals {
			if i > 0 {
				if markdown {
					b.WriteString(" | ")
				} else {
					b.WriteString("  ")
				}
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(v))
			if numeric[i] {
				b.WriteString(pad + v)
			} else {
				b.WriteString(v + pad)
			}
		}
		if markdown {
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	line(r.Columns)
	rule := make([]string, len(r.Columns))
	for i := range rule {
		rule[i] = strings.Repeat("-", width[i])
		if markdown && numeric[i] && width[i] > 1 {
			rule[i] = strings.Repeat("-", width[i]-1) + ":"
		}
	}
	line(rule)
	for _, row := range cells {
		line(row)
	}
	if !markdown {
		fmt.Fprintf(&b, "(%d row%s)\n", len(r.Rows), plural(len(r.Rows)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Printable makes text safe to print on a terminal: model names, user ids
// and messages come from clients and upstreams, and an escape sequence in
// one (ESC [ …) would otherwise drive the reader's terminal. Line breaks
// and tabs become spaces; every other control character is shown escaped
// (\x1b, \u009b), as is invalid UTF-8.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, "\\x%02x", s[i])
			} else {
				b.WriteRune(r)
			}
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, *big.Int:
		return true
	}
	return false
}

// cell renders one value as text; null is what NULL becomes.
func cell(v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	case []byte:
		return string(x)
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 && x.Location() == time.UTC {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format("2006-01-02 15:04:05.000000Z07:00")
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// formatFloat prints up to 6 significant decimals without exponent noise.
func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f != 0 && math.Abs(f) < 1e-4 {
		return strconv.FormatFloat(f, 'g', 6, 64)
	}
	s := strconv.FormatFloat(f, 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
