package analyze

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// writeJSONTyped writes
//
//	{"columns": [...], "types": [...], "rows": [[...], ...]}
//
// with one row per line. Values keep what JSON can carry (integers of any
// size, floats, strings, booleans, null) and everything else is written so
// that a reader holding the column's type can rebuild it exactly:
//
//   - TIMESTAMP and TIMESTAMP WITH TIME ZONE: "2006-01-02T15:04:05.000000Z" (UTC, microseconds)
//   - DATE: "2006-01-02"; TIME: "15:04:05.000000"
//   - DECIMAL: its exact decimal digits as a string
//   - float NaN and ±Inf: "NaN", "Infinity", "-Infinity"
//   - BLOB: standard base64; UUID: its canonical text
//   - INTERVAL: {"months": m, "days": d, "micros": µs}
//   - LIST and STRUCT: arrays and objects of the same rules; MAP: an
//     object keyed by each key's text
func (r *Result) writeJSONTyped(w io.Writer) error {
	types := r.Types
	if len(types) != len(r.Columns) {
		types = make([]string, len(r.Columns))
	}
	bw := bufio.NewWriter(w)
	head, err := json.Marshal(struct {
		Columns []string `json:"columns"`
		Types   []string `json:"types"`
	}{slices.Concat([]string{}, r.Columns), types})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1]) // the object stays open for "rows"
	bw.WriteString(`,"rows":[`)
	row := make([]any, len(r.Columns))
	for i, vals := range r.Rows {
		for j, v := range vals {
			row[j] = typedValue(v, types[j])
		}
		b, err := json.Marshal(row)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(b)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// typedValue converts one scanned value by the rules of writeJSONTyped;
// dbType is the column's DuckDB type name ("" inside nested values).
func typedValue(v any, dbType string) any {
	switch x := v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return x
	case float32:
		return typedFloat(float64(x))
	case float64:
		return typedFloat(x)
	case *big.Int:
		return json.Number(x.String())
	case duckdb.Decimal:
		return x.String()
	case time.Time:
		switch {
		case dbType == "DATE":
			return x.Format(time.DateOnly)
		case strings.HasPrefix(dbType, "TIME") && !strings.HasPrefix(dbType, "TIMESTAMP"):
			return x.Format("15:04:05.000000")
		}
		return x.UTC().Format("2006-01-02T15:04:05.000000Z")
	case []byte:
		if dbType == "UUID" && len(x) == 16 {
			u := duckdb.UUID(x)
			return u.String()
		}
		return base64.StdEncoding.EncodeToString(x)
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return map[string]int64{"months": int64(x.Months), "days": int64(x.Days), "micros": x.Micros}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = typedValue(e, "")
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = typedValue(e, "")
		}
		return out
	case duckdb.OrderedMap:
		keys, vals := x.Keys(), x.Values()
		out := make(orderedObject, len(keys))
		for i, k := range keys {
			out[i] = [2]any{fmt.Sprint(k), typedValue(vals[i], "")}
		}
		return out
	}
	return fmt.Sprint(v)
}

// orderedObject is a JSON object whose members keep their order (a DuckDB
// MAP's keys are ordered; a Go map's are not).
type orderedObject [][2]any

func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(kv[0])
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv[1])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func typedFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
