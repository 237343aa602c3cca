package main

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// traceSummary is where a traced capture's goroutines spent a window of a
// run: the span during which at least minGoroutines goroutines existed
// (the open streams).
type traceSummary struct {
	window                  time.Duration
	busy                    float64 // goroutine running time ÷ window: cores in use
	recording               float64 // the same, of the recorder's and the segment writer's goroutines
	wait50, wait99, waitMax time.Duration
	gcCycles                int
	stw, stwMax, assistMax  time.Duration
	syscall99               time.Duration
}

// relaying are the goroutines that carry a stream's chunks: net/http's
// per-connection goroutine runs capture's handler, which reads upstream
// and writes to the client. The recording goroutines start in one of
// recording: the recorder (building records) and the segment writer
// (encoding, compressing, writing).
const relaying = "net/http.(*conn).serve"

var recording = []string{"capture.(*Recorder)", "format.(*Writer)"}

// summarizeTrace reads a Go execution trace (runtime/trace, as written by
// lessllm capture --trace) with golang.org/x/exp/trace.
func summarizeTrace(path string, minGoroutines int) (traceSummary, error) {
	var s traceSummary
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return s, err
	}
	type gstate struct {
		relaying, recording bool
		running, runnable   bool
		runStart, readyAt   trace.Time
		inSyscall           bool
		syscallAt           trace.Time
	}
	gs := map[trace.GoID]*gstate{}
	live := 0
	var first, last trace.Time
	var running, recorded time.Duration
	var waits, syscalls []time.Duration
	rangeStart := map[string]trace.Time{}
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, err
		}
		now := ev.Time()
		in := live >= minGoroutines
		if in {
			if first == 0 {
				first = now
			}
			last = now
		}
		switch ev.Kind() {
		case trace.EventRangeBegin:
			if in {
				rangeStart[rangeKey(ev)] = now
			}
		case trace.EventRangeEnd:
			t0, ok := rangeStart[rangeKey(ev)]
			if !ok {
				break
			}
			delete(rangeStart, rangeKey(ev))
			d := now.Sub(t0)
			switch name := ev.Range().Name; {
			case strings.HasPrefix(name, "stop-the-world"):
				s.stw += d
				s.stwMax = max(s.stwMax, d)
			case name == "GC mark assist": // a goroutine made to help the collector before it may allocate
				s.assistMax = max(s.assistMax, d)
			case name == "GC concurrent mark phase":
				s.gcCycles++
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				break
			}
			id := st.Resource.Goroutine()
			from, to := st.Goroutine()
			g := gs[id]
			if g == nil {
				g = &gstate{}
				if from == trace.GoNotExist {
					live++
					for fr := range st.Stack.Frames() { // the new goroutine's start
						g.relaying = fr.Func == relaying
						for _, r := range recording {
							g.recording = g.recording || strings.Contains(fr.Func, r)
						}
						break
					}
				}
				gs[id] = g
			}
			if g.running && to != trace.GoRunning {
				if in {
					d := now.Sub(max(g.runStart, first))
					running += d
					if g.recording {
						recorded += d
					}
				}
				g.running = false
			}
			if to == trace.GoRunning && !g.running {
				if g.runnable && g.relaying && in {
					waits = append(waits, now.Sub(g.readyAt))
				}
				g.running, g.runStart, g.runnable = true, now, false
			}
			if to == trace.GoRunnable {
				g.runnable, g.readyAt = true, now
			}
			if to == trace.GoSyscall {
				g.inSyscall, g.syscallAt = true, now
			} else if g.inSyscall {
				if in {
					syscalls = append(syscalls, now.Sub(g.syscallAt))
				}
				g.inSyscall = false
			}
			if to == trace.GoNotExist {
				live--
				delete(gs, id)
			}
		}
	}
	if len(waits) == 0 {
		return s, errors.New("the trace has no window with that many goroutines")
	}
	s.window = last.Sub(first)
	s.busy = float64(running) / float64(s.window)
	s.recording = float64(recorded) / float64(s.window)
	s.wait50, s.wait99, s.waitMax = pct(waits, 50), pct(waits, 99), pct(waits, 100)
	if len(syscalls) > 0 {
		s.syscall99 = pct(syscalls, 99)
	}
	return s, nil
}

// rangeKey tells ranges apart: the GC's are process-wide, mark assists
// belong to a goroutine.
func rangeKey(ev trace.Event) string {
	name := ev.Range().Name
	if name == "GC mark assist" {
		return name + "/" + strconv.FormatInt(int64(ev.Goroutine()), 10)
	}
	if strings.HasPrefix(name, "stop-the-world") {
		return "stop-the-world"
	}
	return name
}
