package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// flushWriter is a streaming compressor that can emit everything written
// so far, as a server does after each event.
type flushWriter interface {
	io.WriteCloser
	Flush() error
}

func newEncoder(t testing.TB, coding string, w io.Writer) flushWriter {
	t.Helper()
	switch coding {
	case "gzip":
		return gzip.NewWriter(w)
	case "deflate":
		return zlib.NewWriter(w)
	case "deflate-raw":
		fw, _ := flate.NewWriter(w, flate.DefaultCompression)
		return fw
	case "br":
		return brotli.NewWriter(w)
	case "zstd":
		zw, err := zstd.NewWriter(w)
		if err != nil {
			t.Fatal(err)
		}
		return zw
	}
	t.Fatalf("no encoder for %s", coding)
	return nil
}

// compressEvents compresses each event with a flush after it, as a
// provider's server does, and returns one chunk per flush.
func compressEvents(t testing.TB, coding string, events []string) [][]byte {
	var out bytes.Buffer
	w := newEncoder(t, coding, &out)
	var chunks [][]byte
	for _, ev := range events {
		io.WriteString(w, ev)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, bytes.Clone(out.Bytes()))
		out.Reset()
	}
	w.Close()
	if out.Len() > 0 {
		chunks = append(chunks, bytes.Clone(out.Bytes()))
	}
	return chunks
}

func TestDecodeChunksKeepsEventTimes(t *testing.T) {
	var events []string
	for i := range 40 {
		events = append(events, fmt.Sprintf("data: {\"n\":%d,\"text\":\"token %d of the answer\"}\n\n", i, i))
	}
	for _, coding := range []string{"gzip", "deflate", "deflate-raw", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			chunks := compressEvents(t, coding, events)
			header := coding
			if coding == "deflate-raw" {
				header = "deflate"
			}
			var err error
			seq := DecodeChunks(header, func(yield func(int64, []byte) bool) {
				for i, c := range chunks {
					if !yield(int64(i+1)*1000, c) {
						return
					}
				}
			}, 1<<20, &err)
			// Each event must come out with the time of the chunk that
			// carried it, no later.
			var got strings.Builder
			at := map[int]int64{}
			for ts, p := range seq {
				for range bytes.Count(p, []byte("\n\n")) {
					at[len(at)] = ts
				}
				got.Write(p)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != strings.Join(events, "") {
				t.Fatalf("decoded body differs")
			}
			for i := range events {
				if at[i] != int64(i+1)*1000 {
					t.Errorf("event %d attributed to %d, sent in chunk at %d", i, at[i], (i+1)*1000)
				}
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	body := []byte(`{"id":"x","choices":[{"message":{"content":"` + strings.Repeat("hello ", 1000) + `"}}]}`)
	enc := func(coding string, in []byte) []byte {
		var b bytes.Buffer
		w := newEncoder(t, coding, &b)
		w.Write(in)
		w.Close()
		return b.Bytes()
	}
	stacked := enc("br", enc("gzip", body))
	for _, tc := range []struct {
		name, header string
		in           []byte
		limit        int64
		want         []byte
		err          string
	}{
		{"identity", "identity", body, 1 << 20, body, ""},
		{"none", "", body, 1 << 20, body, ""},
		{"gzip", "gzip", enc("gzip", body), 1 << 20, body, ""},
		{"x-gzip upper case", "X-Gzip", enc("gzip", body), 1 << 20, body, ""},
		{"zlib deflate", "deflate", enc("deflate", body), 1 << 20, body, ""},
		{"raw deflate", "deflate", enc("deflate-raw", body), 1 << 20, body, ""},
		{"br", "br", enc("br", body), 1 << 20, body, ""},
		{"zstd", "zstd", enc("zstd", body), 1 << 20, body, ""},
		{"stacked gzip then br", "gzip, br", stacked, 1 << 20, body, ""},
		{"over the limit", "gzip", enc("gzip", body), 1000, nil, "exceeds"},
		{"damaged", "gzip", enc("gzip", body)[:40], 1 << 20, nil, "content coding gzip"},
		{"unknown coding", "compress", body, 1 << 20, nil, "unknown content coding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeBody(tc.header, tc.in, tc.limit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.err)
				}
				if tc.err == "exceeds" && !errors.Is(err, ErrDecodedTooLarge) {
					t.Fatalf("err = %v, want ErrDecodedTooLarge", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("err %v, %d bytes, want %d", err, len(got), len(tc.want))
			}
		})
	}
}

// A zip bomb costs no more memory than the limit: 128 MiB of zeros,
// gzipped to ~128 KiB, stops at the 8 MiB limit.
func TestDecodeBodyBomb(t *testing.T) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	zero := make([]byte, 1<<20)
	for range 128 {
		w.Write(zero)
	}
	w.Close()
	_, err := DecodeBody("gzip", b.Bytes(), 8<<20)
	if !errors.Is(err, ErrDecodedTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// FuzzDecodeChunks: any bytes under any coding, cut into reads anywhere,
// decode without a panic and never past the limit; whatever decodes whole
// decodes to the same bytes however it was cut.
func FuzzDecodeChunks(f *testing.F) {
	for _, c := range []string{"gzip", "deflate", "br", "zstd"} {
		var b bytes.Buffer
		w := newEncoder(f, c, &b)
		io.WriteString(w, "data: {\"n\":1}\n\n")
		w.Flush()
		io.WriteString(w, "data: [DONE]\n\n")
		w.Close()
		f.Add(c, b.Bytes(), uint8(7))
	}
	f.Add("gzip, br", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, coding string, data []byte, cut uint8) {
		const limit = 1 << 16
		whole, errWhole := DecodeBody(coding, data, limit)
		if int64(len(whole)) > limit {
			t.Fatalf("decoded %d bytes past the limit", len(whole))
		}
		step := int(cut)%17 + 1
		var err error
		var got []byte
		for _, p := range DecodeChunks(coding, func(yield func(int64, []byte) bool) {
			for i := 0; i < len(data); i += step {
				if !yield(int64(i), data[i:min(i+step, len(data))]) {
					return
				}
			}
		}, limit, &err) {
			got = append(got, p...)
		}
		if errWhole == nil && (err != nil || !bytes.Equal(got, whole)) {
			t.Fatalf("cut every %d bytes: %d bytes, %v; whole: %d bytes", step, len(got), err, len(whole))
		}
	})
}
