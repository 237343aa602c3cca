package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/alecthomas/kong"
)

// HelpAllCmd prints the help of every command, one after the other: the
// reference `make install` puts in share/doc/lessllm/commands.txt and the
// Debian package in /usr/share/doc/lessllm.
type HelpAllCmd struct{}

func (HelpAllCmd) Run(ctx *kong.Context, env *Env) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	paths := []string{""}
	for _, leaf := range ctx.Model.Leaves(true) {
		if p := leaf.Path(); p != "help-all" {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		out, err := exec.Command(self, append(strings.Fields(p), "--help")...).Output()
		if err != nil {
			return fmt.Errorf("lessllm %s --help: %w", p, err)
		}
		fmt.Fprintf(env.Stdout, "==== lessllm %s\n\n%s\n", p, out)
	}
	return nil
}
