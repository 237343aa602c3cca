package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/lessllm/lessllm/capture/config"
)

// HashKeyCmd prints the inbound_keys entry for a key read from stdin (not
// an argument: arguments end up in shell history and process lists).
type HashKeyCmd struct{}

func (HashKeyCmd) Run(env *Env) error {
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	key := strings.TrimRight(line, "\r\n")
	if key == "" {
		if err != nil {
			return &exitError{code: 2, msg: "hash-key: pipe the key on stdin, e.g. printf %s \"$KEY\" | lessllm hash-key"}
		}
		return &exitError{code: 2, msg: "hash-key: empty key"}
	}
	fmt.Fprintln(env.Stdout, "sha256:"+config.HashKey(key))
	return nil
}
