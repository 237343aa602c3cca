package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/lessllm/lessllm/format/configfile"
)

// ConfigCmd groups the commands about lessllm.yaml itself.
type ConfigCmd struct {
	Validate ConfigValidateCmd `cmd:"" help:"Check a config file and print what is wrong with it (file:line: what was expected); exit 2 when anything is."`
	JSON     ConfigJSONCmd     `cmd:"" name:"json" help:"Print a valid config file as JSON, as written: no defaults added, no environment reference expanded."`
}

// ConfigJSONCmd prints a config file as JSON after validating it. The
// Python package reads a user's lessllm.yaml this way (the standard library
// has no YAML parser) and lays its own settings over it.
type ConfigJSONCmd struct {
	Config string `arg:"" help:"Config file." type:"path"`
}

func (c *ConfigJSONCmd) Run(env *Env) error {
	if _, err := (&ConfigValidateCmd{Config: c.Config}).load(); err != nil {
		return err
	}
	data, err := os.ReadFile(c.Config)
	if err != nil {
		return err
	}
	doc, err := configfile.Document(c.Config, data)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// ConfigValidateCmd loads a config exactly as every other command does and
// reports the result. The Python package's configure() goes through it, so
// a configuration is judged by the same code that will run it.
type ConfigValidateCmd struct {
	Config string `arg:"" optional:"" help:"Config file. Empty: ./lessllm.yaml if it exists." default:"" env:"LESSLLM_CONFIG" type:"path"`
}

func (c *ConfigValidateCmd) Run(env *Env) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if cfg.Path == "" {
		fmt.Fprintln(env.Stdout, "no config file (./lessllm.yaml does not exist): the built-in defaults apply")
		return nil
	}
	aliases := "model aliases"
	if len(cfg.Models) == 1 {
		aliases = "model alias"
	}
	fmt.Fprintf(env.Stdout, "%s: valid (%d provider%s, %d %s)\n", cfg.Path, len(cfg.Providers), plural(len(cfg.Providers)), len(cfg.Models), aliases)
	return nil
}

// load reads the config as every command does; errors exit 2.
func (c *ConfigValidateCmd) load() (*Config, error) {
	cfg, err := loadConfig(c.Config)
	if err == nil {
		return cfg, nil
	}
	if os.IsNotExist(err) {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	return nil, &exitError{code: 2, msg: "invalid configuration:\n" + err.Error()}
}
