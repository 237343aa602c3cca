package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"

	"github.com/lessllm/lessllm/format"
)

// VersionCmd prints the build's version and the formats it writes.
type VersionCmd struct{}

func (VersionCmd) Run(env *Env) error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(env.Stdout, "lessllm %s (%s, %s, %s/%s, segment format %d, record version %d)\n",
		v, buildInfo(), runtime.Version(), runtime.GOOS, runtime.GOARCH, format.SegmentVersion, format.RecordVersion)
	return nil
}

// versionFlag is `lessllm --version`: the version command's line, then exit.
type versionFlag bool

func (versionFlag) BeforeReset(app *kong.Kong, env *Env) error {
	if err := (VersionCmd{}).Run(env); err != nil {
		return err
	}
	app.Exit(0)
	return nil
}
