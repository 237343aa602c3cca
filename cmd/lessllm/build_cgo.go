//go:build cgo

package main

const buildKind = "full build"
