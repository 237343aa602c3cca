package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestP99Difference: the same runs differ by nothing, with an interval
// around zero; runs shifted by 1 ms differ by 1 ms, with an interval that
// holds it and excludes zero.
func TestP99Difference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	runs := make([][]time.Duration, 96)
	shifted := make([][]time.Duration, len(runs))
	for i := range runs {
		for range 40 {
			d := time.Duration(200_000 + rng.ExpFloat64()*100_000) // 0.2 ms and a tail
			runs[i] = append(runs[i], d)
			shifted[i] = append(shifted[i], d+time.Millisecond)
		}
	}
	if d, lo, hi := p99Difference(runs, runs); d != 0 || lo > 0 || hi < 0 || lo == hi {
		t.Errorf("same runs: %v (%v … %v), want 0 inside a non-empty interval", d, lo, hi)
	}
	if d, lo, hi := p99Difference(shifted, runs); d != time.Millisecond || lo <= 0 || lo > d || hi < d {
		t.Errorf("runs 1 ms later: %v (%v … %v), want 1ms inside an interval above 0", d, lo, hi)
	}
}
