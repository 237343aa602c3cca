package budget

import (
	"testing"
	"time"
)

func TestBounds(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ period, now, start, end string }{
		{"daily", "2026-12-06T23:59:59Z", "2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z"},
		{"daily", "2026-12-06T01:00:00+05:00", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z"}, // UTC days
		{"weekly", "2026-12-06T12:00:00Z", "2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z"},     // a Sunday: the week began Monday
		{"weekly", "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z"},     // Monday starts one
		{"monthly", "2026-12-31T23:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"monthly", "2028-02-29T10:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
	} {
		start, end, err := Bounds(tc.period, at(tc.now))
		if err != nil || !start.Equal(at(tc.start)) || !end.Equal(at(tc.end)) {
			t.Errorf("%s at %s: [%s, %s) %v, want [%s, %s)", tc.period, tc.now, start, end, err, tc.start, tc.end)
		}
	}
	if _, _, err := Bounds("hourly", time.Now()); err == nil {
		t.Error("hourly accepted")
	}
}
