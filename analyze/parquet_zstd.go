package analyze

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// pageCodec is the zstd codec of every Parquet file analyze writes. It
// replaces parquet-go's own zstd codec, which keeps its encoders in a
// sync.Pool per codec value: with a file per segment and a GC every few
// tens of milliseconds, that built a new encoder (and its history buffers)
// for most pages. One encoder, whose EncodeAll is safe for concurrent use,
// serves them all. The window is bounded by the page size anyway; a small
// one keeps every reader's decoder (DuckDB, Arrow, Spark) within its limits.
var pageCodec = &zstdCodec{}

type zstdCodec struct {
	once sync.Once
	enc  *zstd.Encoder
	dec  *zstd.Decoder
}

func (c *zstdCodec) init() {
	c.once.Do(func() {
		var err error
		c.enc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false), // Parquet pages carry their own CRC when wanted
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			panic(err) // only on invalid options, which are constants here
		}
		if c.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0)); err != nil {
			panic(err)
		}
	})
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() pqformat.CompressionCodec { return pqformat.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.init()
	return c.enc.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	c.init()
	return c.dec.DecodeAll(src, dst[:0])
}
