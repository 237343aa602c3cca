// Command lessllm is a lightweight LLM API proxy that captures every
// exchange to segment files, and an offline analyzer of those segments.
// Each command lives in its own *_cmd.go file; this file only wires them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
)

// CLI is the command tree. Commands are kong structs whose Run method
// receives the process environment (*Env) and calls into the packages.
type CLI struct {
	// --version prints what `lessllm version` prints.
	VersionFlag versionFlag `name:"version" help:"Print the version and exit."`
	// --config is every command's: main loads the file once and binds it,
	// so a command's Run takes a *Config (flags.go).
	ConfigFile string `name:"config" help:"Config file. Empty: ./lessllm.yaml if it exists, else the built-in defaults." default:"" env:"LESSLLM_CONFIG" type:"path"`

	Capture  CaptureCmd  `cmd:"" help:"Run the capturing proxy."`
	Server   ServerCmd   `cmd:"" help:"Run the capturing proxy on a port (capture with fewer flags)."`
	Simulate SimulateCmd `cmd:"" help:"Run a simulated OpenAI + Anthropic upstream for demos, tests and benchmarks."`
	Analyze  AnalyzeCmd  `cmd:"" help:"Analyse sealed segments into DuckDB and Parquet."`
	Query    QueryCmd    `cmd:"" help:"Run read-only SQL against the analysis database."`
	Export   ExportCmd   `cmd:"" help:"Export analysed calls to Parquet or CSV."`
	Stats    StatsCmd    `cmd:"" help:"Print usage, latency, cost and cache statistics."`
	Cache    CacheCmd    `cmd:"" help:"Print the prompt families that miss the prompt cache and what fixing them saves."`
	Budget   BudgetCmd   `cmd:"" help:"Check spend against the config's budgets."`
	Report   ReportCmd   `cmd:"" help:"Write a self-contained HTML report."`
	Segments SegmentsCmd `cmd:"" help:"List, print and verify capture segments."`
	Check    CheckCmd    `cmd:"" help:"Try every route (direct or through the configured proxies) to every provider and print what works."`
	Config   ConfigCmd   `cmd:"" help:"Validate lessllm.yaml, or print it as JSON."`
	HashKey  HashKeyCmd  `cmd:"" name:"hash-key" help:"Print the inbound_keys entry (sha256:...) for a key read from stdin."`
	Version  VersionCmd  `cmd:"" help:"Print the version."`
	HelpAll  HelpAllCmd  `cmd:"" name:"help-all" hidden:"" help:"Print the help of every command (the installed reference)."`
}

// Env is what commands get from the process: what to read, where to write.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// exitError ends the process with a specific status after printing msg
// (if any) to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ownerOnly()
	var cli CLI
	// A mistyped command gets kong's one-line answer ("unexpected
	// argument captur, did you mean "capture"?") and a pointer to --help,
	// not forty lines of help above it.
	parser, err := kong.New(&cli,
		kong.Name("lessllm"),
		kong.Description("A lightweight LLM API proxy that captures every exchange, and an offline analyzer."),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Bind(&Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}),
		kong.BindSingletonProvider(func() (*Config, error) { return loadConfig(cli.ConfigFile) }),
	)
	if err != nil {
		panic(err) // the command tree itself is wrong: a build defect
	}
	ctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		help := "lessllm --help lists the commands"
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil && pe.Context.Selected() != nil {
			help = "lessllm " + pe.Context.Selected().Path() + " --help lists its flags"
		}
		fmt.Fprintf(os.Stderr, "lessllm: %v (%s)\n", err, help)
		os.Exit(2)
	}
	err = ctx.Run()
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "lessllm:", ee.msg)
		}
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "lessllm:", err)
		os.Exit(1)
	}
}
