package main

import (
	"errors"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// profileFlags are the performance-work flags of the long-running
// commands (capture, analyze): where their CPU goes, and where their time
// goes (BENCHMARKS.md measures with them).
type profileFlags struct {
	CPUProfile string `name:"cpu-profile" help:"Write a Go CPU profile of the whole run to this file (performance work; go tool pprof reads it)." default:"" env:"LESSLLM_CPU_PROFILE" type:"path"`
	Trace      string `name:"trace" help:"Write a Go execution trace of the whole run to this file (performance work: what waits on what; go tool trace reads it)." default:"" env:"LESSLLM_TRACE" type:"path"`
}

// start begins what the flags ask for; the returned func ends it and closes
// the files. With no flag set, it does nothing.
func (p profileFlags) start() (stop func(), err error) {
	var stops []func() error
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	if p.CPUProfile != "" {
		f, err := os.Create(p.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, errors.Join(err, f.Close())
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if p.Trace != "" {
		f, err := os.Create(p.Trace)
		if err == nil {
			if err = trace.Start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() error { trace.Stop(); return f.Close() })
	}
	return stop, nil
}
