//go:build !cgo

package cli

// sigpipeIgnoredAtStart cannot be known without cgo: the Go runtime
// replaces the inherited disposition before main runs. A write to a closed
// stdout then ends bpfnetstat by SIGPIPE whatever its parent asked.
func sigpipeIgnoredAtStart() bool { return false }
