package main

import (
	"fmt"
	"strings"
	"time"
)

// compareLatency is the A/B check of a change to the request path: the
// captures of several lessllm binaries (before and after), side by side
// with the bare proxy, at concurrency 1, in the rotating turns of latency.
// A difference smaller than what two captures of one binary show (run it
// with the same binary twice) is noise. It prints; it writes no section.
func (b *bench) compareLatency(bins []string, n, rounds int) string {
	upstream := b.startSimulator("--ttft", "0", "--tpot", "0", "--output-tokens", "20", "--no-cache")
	targets := []*target{{name: "direct", url: upstream}, b.startBare(upstream)}
	for i, bin := range bins {
		b.bin = bin
		t := b.startCapture(upstream, true)
		t.name = fmt.Sprintf("capture %d (%s)", i+1, bin)
		targets = append(targets, t)
	}
	var out strings.Builder
	for _, stream := range []bool{false, true} {
		p50s := make([][]time.Duration, len(targets))
		p99s := make([][]time.Duration, len(targets))
		for range rounds {
			p50, p99 := b.latency(targets, stream, n)
			for i := range targets {
				p50s[i], p99s[i] = append(p50s[i], p50[i]), append(p99s[i], p99[i])
			}
		}
		kind := "non-streamed"
		if stream {
			kind = "streamed"
		}
		fmt.Fprintf(&out, "### Added latency at concurrency 1, %s (median of %d rounds of %d calls per target)\n\n", kind, rounds, n)
		out.WriteString("| target | p50 | added p50 | ÷ bare's | added p99 |\n|---|---|---|---|---|\n")
		d50, d99 := median(p50s[0]), median(p99s[0])
		bareAdded := median(p50s[1]) - d50
		for i, t := range targets {
			added := median(p50s[i]) - d50
			ratio := "-"
			if i > 0 && bareAdded > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(added)/float64(bareAdded))
			}
			fmt.Fprintf(&out, "| %s | %s | %s | %s | %s |\n", t.name, us(median(p50s[i])), us(added), ratio, us(median(p99s[i])-d99))
		}
		out.WriteString("\n")
	}
	return out.String()
}
