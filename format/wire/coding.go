package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// HTTP content codings (RFC 9110 §8.4). Providers compress their answers
// when the client accepts it — OpenAI JSON with br or gzip, Anthropic even
// its event streams with gzip — and clients compress large request bodies
// (the Codex CLI sends zstd). A capturing proxy relays and records the
// bytes as they travelled; whoever reads the body decodes it here.

// ErrDecodedTooLarge is returned (wrapped) when a body decodes to more than
// the caller's limit: a compressed body is never trusted to be small.
var ErrDecodedTooLarge = errors.New("decoded body exceeds the limit")

// Codings returns the content codings of a Content-Encoding header value
// in the order they were applied, lower-cased, without "identity". Nil
// means the body is not encoded.
func Codings(contentEncoding string) []string {
	var out []string
	for c := range strings.SplitSeq(contentEncoding, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && c != "identity" {
			out = append(out, c)
		}
	}
	return out
}

// byteSource is what the decoders read: with an io.ByteReader the
// deflate-based ones read no byte past the ones they need, which keeps
// DecodeChunks' timing exact.
type byteSource interface {
	io.Reader
	io.ByteReader
}

// decoder wraps r in the decoder of one content coding.
func decoder(coding string, r byteSource) (io.Reader, error) {
	switch coding {
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "deflate":
		// RFC 9110 says zlib (RFC 1950), but servers have long sent raw
		// deflate (RFC 1951) under this name; browsers accept both.
		pr := &peekReader{r: r}
		if pr.zlibHeader() {
			return zlib.NewReader(pr)
		}
		return flate.NewReader(pr), nil
	case "br":
		return brotli.NewReader(r), nil
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown content coding %q", coding)
}

// DecodeBody undoes the content codings of a whole body. It fails when a
// coding is unknown, the data is damaged, or the result would exceed limit
// bytes.
func DecodeBody(contentEncoding string, body []byte, limit int64) ([]byte, error) {
	var out []byte
	var err error
	for _, p := range DecodeChunks(contentEncoding, func(yield func(int64, []byte) bool) { yield(0, body) }, limit, &err) {
		out = append(out, p...)
	}
	return out, err
}

// DecodeChunks undoes the content codings of a body that arrived as timed
// reads (offset, bytes) and yields the decoded bytes, each piece with the
// offset of the read whose arrival made it decodable: the time a client
// decoding the stream could first have seen it. Nothing is buffered beyond
// what the decoders need, so a compressed event stream yields its events
// with their own times. A failure (unknown coding, damaged data, more than
// limit decoded bytes) ends the sequence and is stored in *errp; the pieces
// already yielded stay valid. Yielded slices are only valid until the next
// iteration.
func DecodeChunks(contentEncoding string, chunks iter.Seq2[int64, []byte], limit int64, errp *error) iter.Seq2[int64, []byte] {
	return func(yield func(int64, []byte) bool) {
		*errp = nil
		codings := Codings(contentEncoding)
		if len(codings) == 0 {
			for t, p := range chunks {
				if !yield(t, p) {
					return
				}
			}
			return
		}
		next, stop := iter.Pull2(chunks)
		defer stop()
		src := &chunkReader{next: next}
		var r io.Reader = src
		defer func() {
			// Closing releases the zstd decoder's buffers; the others
			// hold nothing that needs it.
			if c, ok := r.(io.Closer); ok {
				c.Close()
			}
		}()
		// Codings are listed in the order they were applied: undo the
		// last one first.
		for i := len(codings) - 1; i >= 0; i-- {
			d, err := decoder(codings[i], byteReader(r))
			if err != nil {
				*errp = fmt.Errorf("content coding %s: %w", codings[i], err)
				return
			}
			r = d
		}
		buf := make([]byte, 32<<10)
		var total int64
		for {
			n, err := r.Read(buf)
			if n > 0 {
				total += int64(n)
				if total > limit {
					*errp = fmt.Errorf("%w of %d bytes (content coding %s)", ErrDecodedTooLarge, limit, contentEncoding)
					return
				}
				if !yield(src.t, buf[:n]) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				*errp = fmt.Errorf("content coding %s: %w", contentEncoding, err)
				return
			}
		}
	}
}

// chunkReader reads timed chunks one after another, remembering the offset
// of the chunk it is in. Each Read stays within one chunk, so a decoder that
// asks for more input only when it needs it moves t exactly as the input
// arrived.
type chunkReader struct {
	next func() (int64, []byte, bool)
	cur  []byte
	t    int64
}

func (c *chunkReader) fill() bool {
	for len(c.cur) == 0 {
		t, p, ok := c.next()
		if !ok {
			return false
		}
		c.t, c.cur = t, p
	}
	return true
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if !c.fill() {
		return 0, io.EOF
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func (c *chunkReader) ReadByte() (byte, error) {
	if !c.fill() {
		return 0, io.EOF
	}
	b := c.cur[0]
	c.cur = c.cur[1:]
	return b, nil
}

// byteReader gives a decoder an io.ByteReader: the chunk reader itself, or
// a small buffer over an inner decoder (stacked codings).
func byteReader(r io.Reader) byteSource {
	if b, ok := r.(byteSource); ok {
		return b
	}
	return bufio.NewReaderSize(r, 512)
}

// peekReader looks at the first two bytes of a deflate body to tell zlib
// framing from raw deflate, then replays them.
type peekReader struct {
	r    byteSource
	head []byte
}

func (p *peekReader) zlibHeader() bool {
	for len(p.head) < 2 {
		b, err := p.r.ReadByte()
		if err != nil {
			return false
		}
		p.head = append(p.head, b)
	}
	// RFC 1950 §2.2: CM = 8 (deflate), CINFO ≤ 7, and CMF·256 + FLG is a
	// multiple of 31.
	cmf, flg := p.head[0], p.head[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.r.Read(b)
}

func (p *peekReader) ReadByte() (byte, error) {
	if len(p.head) > 0 {
		b := p.head[0]
		p.head = p.head[1:]
		return b, nil
	}
	return p.r.ReadByte()
}
