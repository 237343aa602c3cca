package main

// ReportCmd is filled in by the report issue; until then it says so and
// exits 2 rather than pretend.
type ReportCmd struct{}

func (ReportCmd) Run(*Env) error {
	return &exitError{code: 2, msg: "not implemented yet"}
}
