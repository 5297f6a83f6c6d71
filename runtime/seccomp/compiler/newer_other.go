//go:build !amd64

package compiler

// newerSyscalls: see newer_amd64.go; none are known here.
var newerSyscalls = map[string]int{}
