package analyze

import (
	"context"
	"database/sql"
	"encoding/json"
)

// Sensitive data (README "Sensitive data"): request and response text is
// scanned for secrets and personal data while each segment is analysed;
// table sensitive_findings keeps the kind and a masked excerpt, never the
// value.

const findingsDDL = `
CREATE TABLE IF NOT EXISTS sensitive_findings (
	request_id VARCHAR, segment VARCHAR, "timestamp" TIMESTAMPTZ, user_id VARCHAR, model VARCHAR,
	"where" VARCHAR,   -- request | response
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

// findings scans a call's request and response and appends what it finds.
// The JSON is searched as it is first: text that no rule's prefilter
// matches (most traffic) is never decoded.
func (x *extractor) findings(c *Call, out []findingRow) []findingRow {
	for _, doc := range []struct {
		where string
		raw   *string
	}{{"request", c.RequestJSON}, {"response", c.ResponseJSON}} {
		if doc.raw == nil || !x.sensitive.Maybe(*doc.raw) {
			continue
		}
		for _, f := range x.sensitive.Scan(textOf(json.RawMessage(*doc.raw)), nil) {
			out = append(out, findingRow{RequestID: c.RequestID, Segment: c.Segment, Timestamp: c.Timestamp,
				UserID: c.UserID, Model: firstNonNil(c.Model, c.UpstreamModel), Where: doc.where, Kind: f.Kind, Excerpt: f.Excerpt})
		}
	}
	return out
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
