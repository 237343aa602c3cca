package analyze

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestJSONTyped runs one query over every kind of value DuckDB returns and
// compares the typed JSON with the golden file (go test -run TestJSONTyped
// -update rewrites it). The Python package rebuilds values from exactly
// these spellings (python/lessllm/_result.py).
func TestJSONTyped(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := Query(context.Background(), db, `SELECT
		42 AS int, 12345678901234567890123::HUGEINT AS huge, 1.5::DOUBLE AS dbl, 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf,
		12.345::DECIMAL(18,3) AS dec, true AS ok, 'héllo "x"' AS txt, NULL::VARCHAR AS nothing,
		TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS tstz,
		DATE '2024-01-02' AS day, TIME '03:04:05.25' AS tod, '\x00\xff'::BLOB AS blob,
		'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS uuid, INTERVAL '1 month 2 days 3 seconds' AS iv,
		[1, 2, NULL] AS list, {'a': 1, 'b': 'x'} AS struct, MAP {'k': 1.5, 'a': 2} AS map, '{"a":1}'::JSON AS json
	UNION ALL SELECT 0, 0, -0.25, 0, '-inf'::DOUBLE, -0.5, false, '', 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, [], NULL, NULL, NULL`)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := res.Write(&got, FormatJSONTyped); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "json-typed.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("typed JSON differs from %s (-update rewrites it):\n%s", golden, got.String())
	}
}
