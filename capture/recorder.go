package capture

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lessllm/lessllm/format"
)

// RecordSink receives completed exchanges. Record must not block: it is
// called on the request path.
type RecordSink interface {
	Record(ex *format.Exchange)
	// Healthy reports whether records are currently being written; with
	// on_write_error: reject, the server refuses requests while it is not.
	Healthy() bool
}

// Recorder is the RecordSink that writes segments: a bounded queue drained
// by one goroutine into a format.Writer, so the request path never waits
// for encoding, compression or the disk. A full queue drops the record,
// counts it and says so in the log (at most once a second).
type Recorder struct {
	w       *format.Writer
	ch      chan *format.Exchange
	done    chan struct{}
	log     *slog.Logger
	dropped atomic.Int64 // queue full
	lastErr atomic.Int64 // unix ns of the last write error
	lastLog atomic.Int64
	once    sync.Once
	// closeMu orders Record's send against Close's close(ch): a record
	// arriving after Close is dropped, never sent on a closed channel.
	closeMu sync.RWMutex
	closed  bool
}

var _ RecordSink = (*Recorder)(nil)

// OpenRecorder opens a segment writer (repairing the node's leftover .open
// files, which it logs) and starts draining a queue of queueSize records
// into it.
func OpenRecorder(opts format.WriterOptions, queueSize int, log *slog.Logger) (*Recorder, error) {
	r := &Recorder{ch: make(chan *format.Exchange, queueSize), done: make(chan struct{}), log: log}
	opts.OnError = r.writeFailed
	w, err := format.NewWriter(opts)
	if err != nil {
		return nil, err
	}
	if m := w.Tightened(); m != 0 {
		log.Warn("the capture directory was open to other users; narrowed to owner only", "dir", opts.Dir, "was", m.String())
	}
	for _, rep := range w.Recovered() {
		log.Warn("repaired a segment left open by an earlier run", "open", rep.Path, "sealed", rep.Sealed,
			"records", rep.Records, "damage", len(rep.Damage), "kept_aside", rep.KeptAside)
	}
	r.w = w
	go r.run()
	return r, nil
}

// drainPause is how long the writer goroutine lets records gather after
// the first one wakes it: a busy proxy then costs one goroutine wake-up per
// pause, not one per exchange, and an idle one sleeps on the channel
// (no wake-up at all). It adds at most this much to the flush-delay bound.
const drainPause = 5 * time.Millisecond

func (r *Recorder) run() {
	defer close(r.done)
	drain(r.ch, func(ex *format.Exchange) {
		if err := r.w.Append(ex); err != nil {
			r.writeFailed(err, 1)
		}
	})
}

// drain hands every item of ch to handle until ch is closed: it parks on
// the channel while it is empty, and after each wake-up waits drainPause
// and takes everything that arrived meanwhile.
func drain[T any](ch <-chan T, handle func(T)) {
	for first := range ch {
		handle(first)
		time.Sleep(drainPause)
		for more := true; more; {
			select {
			case it, ok := <-ch:
				if !ok {
					return
				}
				handle(it)
			default:
				more = false
			}
		}
	}
}

// Record queues ex, or drops and counts it when the queue is full or the
// recorder is closed (an exchange that ends during a forced shutdown).
func (r *Recorder) Record(ex *format.Exchange) {
	r.closeMu.RLock()
	defer r.closeMu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- ex:
	default:
		r.dropped.Add(1)
		r.loudly("capture queue full: exchange dropped (the disk is slower than the traffic)", "id", ex.ID, "dropped_total", r.dropped.Load())
	}
}

// writeFailed is the format.Writer's OnError hook too.
func (r *Recorder) writeFailed(err error, records int) {
	r.lastErr.Store(time.Now().UnixNano())
	r.loudly("capture write failed: records lost", "err", err, "records", records)
}

func (r *Recorder) loudly(msg string, args ...any) {
	now := time.Now().UnixNano()
	if last := r.lastLog.Load(); now-last > int64(time.Second) && r.lastLog.CompareAndSwap(last, now) {
		r.log.Error(msg, args...)
	}
}

// Healthy is false while the queue is full or within 5 s of a write error.
func (r *Recorder) Healthy() bool {
	return len(r.ch) < cap(r.ch) && time.Now().UnixNano()-r.lastErr.Load() > int64(5*time.Second)
}

// Close drains the queue, then closes (and seals) the writer. A nil
// Recorder (logging disabled) has nothing to close.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() {
		r.closeMu.Lock()
		r.closed = true
		close(r.ch)
		r.closeMu.Unlock()
	})
	<-r.done
	return r.w.Close()
}

// Collectors exposes the writer's and queue's counters to Prometheus.
func (r *Recorder) Collectors() []prometheus.Collector {
	stat := func(f func(format.WriterStats) int64) func() float64 {
		return func() float64 { return float64(f(r.w.Stats())) }
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lessllm_records_written_total", Help: "Exchanges written to segments."},
			stat(func(s format.WriterStats) int64 { return s.RecordsWritten })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lessllm_records_dropped_total", Help: "Exchanges lost: queue full or write failed."},
			func() float64 { return float64(r.dropped.Load() + r.w.Stats().RecordsDropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lessllm_write_errors_total", Help: "Segment write and seal errors."},
			stat(func(s format.WriterStats) int64 { return s.WriteErrors })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lessllm_segments_relinked_total", Help: "Segments found deleted while written and recreated with their records."},
			stat(func(s format.WriterStats) int64 { return s.SegmentsRelinked })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lessllm_segment_bytes_written_total", Help: "Compressed bytes written to segments."},
			stat(func(s format.WriterStats) int64 { return s.BytesWritten })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lessllm_record_queue_length", Help: "Exchanges waiting for the segment writer."},
			func() float64 { return float64(len(r.ch)) }),
	}
}
