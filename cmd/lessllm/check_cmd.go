package main

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/lessllm/lessllm/capture"
)

// CheckCmd tries every route to every provider and prints what works.
type CheckCmd struct {
}

func (c *CheckCmd) Run(env *Env, cfg *Config) error {
	results := capture.Check(context.Background(), cfg.File)
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PROVIDER\tROUTE\tRESULT\tCONNECT\tTLS\tTOTAL\tDETAIL")
	reachable := map[string]bool{}
	for _, r := range results {
		result := "FAIL"
		if r.OK {
			result = "ok"
			reachable[r.Provider] = true
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Provider, r.Route, result, ms(r.Connect), ms(r.TLS), ms(r.Total), r.Detail)
	}
	w.Flush()
	var unreachable []string
	for _, r := range results {
		if !reachable[r.Provider] && !slices.Contains(unreachable, r.Provider) {
			unreachable = append(unreachable, r.Provider)
		}
	}
	if len(unreachable) == 0 {
		return nil
	}
	for _, p := range unreachable[:len(unreachable)-1] {
		fmt.Fprintf(env.Stderr, "lessllm: provider %s is not reachable over any route\n", p)
	}
	return &exitError{code: 1, msg: fmt.Sprintf("provider %s is not reachable over any route", unreachable[len(unreachable)-1])}
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1e3)
}
