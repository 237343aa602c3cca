package analyze

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/lessllm/lessllm/format"
	"github.com/lessllm/lessllm/format/formattest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// rawSegment writes a sealed segment holding lines exactly as given, built
// byte by byte from format/SPEC.md (header frame, one checksummed zstd data
// frame, footer with the file's SHA-256): the way to get a record that is
// not JSON into a segment that otherwise verifies.
func rawSegment(t *testing.T, dir, node string, lines ...[]byte) string {
	t.Helper()
	skippable := func(magic uint32, payload []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, magic)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	var buf bytes.Buffer
	hdr, _ := json.Marshal(format.HeaderInfo{Format: format.FormatName, Version: format.SegmentVersion, Node: node, CreatedNS: t0.UnixNano()})
	buf.Write(skippable(0x184D2A50, hdr))
	content := append(bytes.Join(lines, []byte("\n")), '\n')
	enc, _ := zstd.NewWriter(nil)
	buf.Write(enc.EncodeAll(content, nil))
	sum := sha256.Sum256(buf.Bytes())
	ft, _ := json.Marshal(format.FooterInfo{Format: format.FormatName, Version: format.SegmentVersion, Records: int64(len(lines)), Frames: 1,
		FirstStartNS: t0.UnixNano(), LastStartNS: t0.UnixNano(), SealedNS: t0.UnixNano(), DataBytes: int64(buf.Len()),
		ContentBytes: int64(len(content)), SHA256: hex.EncodeToString(sum[:])})
	buf.Write(skippable(0x184D2A51, ft))
	path := filepath.Join(dir, format.SegmentName(node, t0)+format.SealedSuffix)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func line(t *testing.T, ex *format.Exchange) []byte {
	t.Helper()
	b, err := format.AppendJSON(nil, ex)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// cutStream is a streamed chat whose upstream dropped the connection in the
// middle of an SSE event.
func cutStream(r *rand.Rand) *format.Exchange {
	ex := formattest.StreamedChat(r, t0.Add(time.Minute), 10)
	chunks := ex.Response.Chunks[:6]
	last := chunks[5]
	chunks[5] = format.NewChunk(last.T, last.Data()[:len(last.Data())/2])
	ex.Response.Chunks = chunks
	ex.Error = &format.Error{Kind: format.ErrUpstreamBroken, Message: "unexpected EOF", AtNS: last.T}
	return ex
}

// unknownEndpoint is a successful call to an API analysis has no parser for.
func unknownEndpoint(r *rand.Rand) *format.Exchange {
	ex := formattest.StreamedChat(r, t0.Add(2*time.Minute), 1)
	ex.Request.Path = "/v1/files"
	ex.Request.SetBody(nil, 0)
	ex.Route.Model, ex.Route.UpstreamModel = "", ""
	body := []byte(`{"object":"list","data":[]}`)
	ex.Response = &format.Response{Status: 200, Headers: format.Header{"Content-Type": {"application/json"}},
		Chunks: []format.Chunk{format.NewChunk(5e6, body)}, Bytes: int64(len(body))}
	return ex
}

type damageCase struct {
	name string
	// write puts segments into dir and returns how many records in them
	// are complete exchanges.
	write func(t *testing.T, dir string) int
	// problem is what the run must report (analysis_problems.kind: message).
	problem string
	// check looks at the rows the run produced.
	check func(t *testing.T, db *sql.DB)
}

var damageCases = []damageCase{{
	name: "torn_segment",
	write: func(t *testing.T, dir string) int {
		w, err := format.NewWriter(format.WriterOptions{Dir: dir, Node: "torn", FlushInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		for i := range 9 {
			w.Append(formattest.StreamedChat(r, t0.Add(time.Duration(i)*time.Second), 20))
			if i%3 == 2 {
				w.Flush() // three frames of three records
			}
		}
		w.Close()
		segs, _ := format.ListSegments([]string{dir}, false)
		st, _ := os.Stat(segs[0].Path)
		// Cut into the last data frame: a disk that filled up, a copy cut
		// short. The first two frames are whole.
		if err := os.Truncate(segs[0].Path, st.Size()-400); err != nil {
			t.Fatal(err)
		}
		return 6
	},
	problem: "corruption",
}, {
	name: "record_not_json",
	write: func(t *testing.T, dir string) int {
		r := rand.New(rand.NewPCG(2, 2))
		rawSegment(t, dir, "garbled",
			line(t, formattest.StreamedChat(r, t0, 5)),
			[]byte(`{"v":1,"id":"0190-cut-here`),
			[]byte(`this is not JSON at all`),
			line(t, formattest.StreamedChat(r, t0.Add(time.Second), 5)),
			[]byte(`{"v":99,"id":"from-the-future"}`),
		)
		return 2
	},
	problem: "record: record is not a readable exchange",
}, {
	name: "sse_cut_in_half",
	write: func(t *testing.T, dir string) int {
		rawSegment(t, dir, "cut", line(t, cutStream(rand.New(rand.NewPCG(3, 3)))))
		return 1
	},
	check: func(t *testing.T, db *sql.DB) {
		var complete bool
		var actual, cost sql.NullFloat64
		var problems, errType string
		var ttft float64
		err := db.QueryRow(`SELECT stream_complete, actual_completion_tokens, estimated_cost_usd, problems, error_type, estimated_ttft_ms
			FROM api_calls WHERE segment LIKE '%_cut_%'`).Scan(&complete, &actual, &cost, &problems, &errType, &ttft)
		if err != nil {
			t.Fatal(err)
		}
		if complete || actual.Valid || errType != format.ErrUpstreamBroken || !strings.Contains(problems, "ended before") {
			t.Errorf("cut stream: complete=%v actual=%v error=%s problems=%q", complete, actual, errType, problems)
		}
		// formattest: role-only chunk at 150–160 ms, first content 18–22 ms later.
		if ttft < 168 || ttft > 182 {
			t.Errorf("cut stream TTFT %v: what arrived is still measured", ttft)
		}
	},
}, {
	name: "unknown_endpoint",
	write: func(t *testing.T, dir string) int {
		rawSegment(t, dir, "files", line(t, unknownEndpoint(rand.New(rand.NewPCG(4, 4)))))
		return 1
	},
	check: func(t *testing.T, db *sql.DB) {
		var problems string
		var ttft, cost, tokens sql.NullFloat64
		var status int
		err := db.QueryRow(`SELECT status, problems, estimated_ttft_ms, estimated_cost_usd, coalesce(actual_total_tokens, estimated_prompt_tokens)
			FROM api_calls WHERE endpoint = '/v1/files'`).Scan(&status, &problems, &ttft, &cost, &tokens)
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 || !strings.Contains(problems, "no parser") || ttft.Valid || cost.Valid || tokens.Valid {
			t.Errorf("unknown endpoint: status %d problems %q ttft %v cost %v tokens %v", status, problems, ttft, cost, tokens)
		}
	},
}}

// TestDamagedInput: each kind of damage is analysed as far as it goes,
// counted and reported; the run never aborts and never invents numbers.
// All cases share one directory and one run, as they would in production.
func TestDamagedInput(t *testing.T) {
	dir := t.TempDir()
	want := 0
	for _, c := range damageCases {
		sub := filepath.Join(dir, c.name)
		os.MkdirAll(sub, 0o755)
		want += c.write(t, sub)
	}
	out := t.TempDir()
	sum, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: filepath.Join(out, "a.duckdb")})
	if err != nil {
		t.Fatalf("run aborted: %v", err)
	}
	if sum.Segments != len(damageCases) || sum.Rows != int64(want) {
		t.Errorf("analysed %d segments into %d rows, want %d and %d", sum.Segments, sum.Rows, len(damageCases), want)
	}
	db, err := OpenReadOnly(sum.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range damageCases {
		t.Run(c.name, func(t *testing.T) {
			if c.problem != "" {
				kind, msg, _ := strings.Cut(c.problem, ": ")
				var n int
				db.QueryRow(`SELECT count(*) FROM analysis_problems p JOIN analyzed_segments s USING (segment)
					WHERE s.path LIKE ? AND p.kind = ? AND p.message LIKE ?`, "%/"+c.name+"/%", kind, "%"+msg+"%").Scan(&n)
				if n == 0 {
					t.Errorf("no %q problem reported; summary: %q", c.problem, sum.Problems)
				}
			}
			if c.check != nil {
				c.check(t, db)
			}
		})
	}
	var rows int
	db.QueryRow(`SELECT count(*) FROM api_calls WHERE request_id IS NULL OR timestamp IS NULL`).Scan(&rows)
	if rows != 0 {
		t.Errorf("%d rows without id or time", rows)
	}
	// The outputs hold prompts, like the segments: owner only.
	files, _ := filepath.Glob(filepath.Join(sum.Parquet, "api_calls", "date=*", "*.parquet"))
	for _, f := range append(files, sum.DB) {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
	if len(files) == 0 {
		t.Error("no parquet files")
	}
}

// TestDamagedCopyKeepsEarlierAnalysis: a transfer cut short delivers a
// torn copy of a segment that was already analysed intact; its rows stay.
func TestDamagedCopyKeepsEarlierAnalysis(t *testing.T) {
	dir := t.TempDir()
	writeStreamedSegments(t, dir, 9, 5)
	segs, _ := format.ListSegments([]string{dir}, false)
	db := filepath.Join(t.TempDir(), "a.duckdb")
	if s, err := Run(context.Background(), Options{Inputs: []string{dir}, DB: db}); err != nil || s.Rows != 9 {
		t.Fatalf("first run: %+v, %v", s, err)
	}
	torn := filepath.Join(t.TempDir(), filepath.Base(segs[0].Path))
	data, _ := os.ReadFile(segs[0].Path)
	os.WriteFile(torn, data[:len(data)/2], 0o644)
	s, err := Run(context.Background(), Options{Inputs: []string{filepath.Dir(torn)}, DB: db})
	if err != nil || s.Segments != 0 || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "damaged copy") {
		t.Fatalf("torn copy: %+v, %v", s, err)
	}
	conn, _ := OpenReadOnly(db)
	defer conn.Close()
	var n int
	conn.QueryRow(`SELECT count(*) FROM api_calls`).Scan(&n)
	if n != 9 {
		t.Errorf("%d rows after a torn copy arrived, want the 9 from the intact one", n)
	}
}
