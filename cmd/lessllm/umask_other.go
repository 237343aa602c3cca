//go:build !unix

package main

// ownerOnly does nothing where there is no umask; files are created with
// the modes lessllm asks for.
func ownerOnly() {}
