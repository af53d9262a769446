// Command bpfnetstat is netstat rebuilt: the classic socket listing of
// net-tools 2.10, byte for byte, plus eBPF connection tracing.
package main

import (
	"os"

	"github.com/bpfnetstat/bpfnetstat/internal/cli"
)

func main() { os.Exit(cli.Main()) }
