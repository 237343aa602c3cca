package analyze

import "encoding/json"

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
