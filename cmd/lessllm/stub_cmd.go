package main

// notImplemented is embedded by commands that later work fills in: they
// say so and exit 2 rather than pretend.
type notImplemented struct{}

func (notImplemented) Run(*Env) error {
	return &exitError{code: 2, msg: "not implemented yet"}
}

type (
	AnalyzeCmd struct{ notImplemented }
	QueryCmd   struct{ notImplemented }
	ExportCmd  struct{ notImplemented }
	StatsCmd   struct{ notImplemented }
	ReportCmd  struct{ notImplemented }
)
