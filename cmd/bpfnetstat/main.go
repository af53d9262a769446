// The runtime's container-aware GOMAXPROCS keeps two cgroup files open for
// the life of the process; under a tight open-file limit (ulimit -n 6)
// those two are what netstat needs to list sockets at all.
//
//go:debug containermaxprocs=0

// Command bpfnetstat is netstat rebuilt: the classic socket listing of
// net-tools 2.10, byte for byte, plus eBPF connection tracing.
package main

import (
	"os"

	"github.com/bpfnetstat/bpfnetstat/internal/cli"
)

func main() { os.Exit(cli.Main()) }
