package analyze

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/lessllm/lessllm/analyze/sensitive"
)

// Sensitive data (README "Sensitive data"): request and response text is
// scanned for secrets and personal data while each segment is analysed;
// table sensitive_findings keeps the kind and a masked excerpt, never the
// value.

const findingsDDL = `
CREATE TABLE IF NOT EXISTS sensitive_findings (
	request_id VARCHAR, segment VARCHAR, "timestamp" TIMESTAMPTZ, user_id VARCHAR, model VARCHAR,
	"where" VARCHAR,   -- request | response | error
	kind VARCHAR,      -- aws_access_key, email, credit_card, …
	excerpt VARCHAR    -- masked: AKIA…MPLE
);`

// findingRow is one row of sensitive_findings.
type findingRow struct {
	RequestID string  `parquet:"request_id"`
	Segment   string  `parquet:"segment,dict"`
	Timestamp int64   `parquet:"timestamp,timestamp(microsecond:utc)"`
	UserID    *string `parquet:"user_id,optional,dict"`
	Model     *string `parquet:"model,optional,dict"`
	Where     string  `parquet:"where,dict"`
	Kind      string  `parquet:"kind,dict"`
	Excerpt   string  `parquet:"excerpt"`
}

// findings scans the strings of a call's request and response, appends
// what it finds and — unless the config keeps them — replaces each value
// found in the row's request_json / response_json by its masked excerpt,
// so the analysis outputs (DuckDB, Parquet, exports, the report) do not
// copy a secret out of the capture. Text that no rule's prefilter matches
// (most traffic) meets no regular expression.
func (x *extractor) findings(c *Call, out []findingRow) []findingRow {
	for _, doc := range []struct {
		where string
		raw   **string
		json  bool
	}{{"request", &c.RequestJSON, true}, {"response", &c.ResponseJSON, true}, {"error", &c.ErrorMessage, false}} {
		// Whatever a prefilter finds in the strings it also finds in the
		// whole document, so most documents are passed over with no copy.
		if *doc.raw == nil || !x.sensitive.Maybe(**doc.raw) {
			continue
		}
		// An error message is plain text — often an upstream's echo of
		// the key it refused ("Incorrect API key provided: sk-…").
		text := **doc.raw
		if doc.json {
			text = jsonStringContents(text)
		}
		if !x.sensitive.Maybe(text) {
			continue
		}
		found := x.sensitive.Scan(text, nil)
		for _, f := range found {
			out = append(out, findingRow{RequestID: c.RequestID, Segment: c.Segment, Timestamp: c.Timestamp,
				UserID: c.UserID, Model: firstNonNil(c.Model, c.UpstreamModel), Where: doc.where, Kind: f.Kind, Excerpt: f.Excerpt})
		}
		if len(found) > 0 && !x.keepSensitive {
			*doc.raw = ptr(redact(**doc.raw, found))
		}
	}
	return out
}

// jsonStringContents is the content of every string in a JSON document,
// escapes left as written, separated by newlines: the text a person or a
// model wrote, without the numbers (timestamps, token counts) that would
// make digit-shaped detectors look at every document. Values are found as
// the JSON writes them, which is also how redact replaces them.
func jsonStringContents(doc string) string {
	var b strings.Builder
	in, esc := false, false
	start := 0
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			if in {
				b.WriteString(doc[start:i])
				b.WriteByte('\n')
			} else {
				start = i + 1
			}
			in = !in
		}
	}
	return b.String()
}

// redact replaces each finding's value in a JSON document by
// "[kind excerpt]". Values are looked for as written in JSON (escaped);
// the text around them is untouched, so the document stays valid JSON.
func redact(doc string, found []sensitive.Finding) string {
	var pairs []string
	for _, f := range found {
		for _, form := range []string{f.Value, jsonInner(f.Value)} {
			pairs = append(pairs, form, jsonInner("["+f.Kind+" "+f.Excerpt+"]"))
		}
	}
	return strings.NewReplacer(pairs...).Replace(doc)
}

// jsonInner is s as a JSON string's content, without the quotes.
func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// SensitiveCounts counts findings by kind, user and model over the calls f
// selects.
func SensitiveCounts(ctx context.Context, db *sql.DB, f Filter) (*Result, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'sensitive_findings'`).Scan(&n); err != nil || n == 0 {
		return &Result{}, err // a database analysed before the scan existed
	}
	cond, args := f.where()
	return Query(ctx, db, `SELECT kind, coalesce(user_id, '(none)') AS user_id, coalesce(model, '(none)') AS model,
		count(*) AS findings, count(DISTINCT request_id) AS calls
		FROM sensitive_findings WHERE request_id IN (SELECT request_id FROM api_calls WHERE `+cond+`)
		GROUP BY ALL ORDER BY findings DESC, kind, user_id, model`, args...)
}
