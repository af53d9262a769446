// Package cli is bpfnetstat's command layer: argument parsing, the classic
// netstat command line, subcommands, exit codes and signals live here and
// only here.
package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// Version is bpfnetstat's version, set at build time with -ldflags -X.
var Version = "0.1.0-dev"

// versionText keeps the shape of netstat -V but names bpfnetstat: it must
// not claim to be net-tools.
var versionText = "bpfnetstat " + Version + "\n" +
	"netstat (net-tools 2.10) compatible socket listing, with eBPF connection tracing\n" +
	"+JSON +SOCK_DIAG +EBPF\n" +
	"AF: (inet) +UNIX +INET +INET6\n" +
	"HW:  none\n"

// Main runs bpfnetstat with os.Args and returns the process exit status.
// Invoked under the name "netstat" it is the classic tool, messages and
// exit statuses included.
func Main() int {
	env := Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		ProcRoot: "/proc",
		Getenv:   os.Getenv,
		Geteuid:  os.Geteuid,
		Sleep:    time.Sleep,
	}
	return run(os.Args, env)
}

func run(argv []string, env Env) int {
	prog := "bpfnetstat"
	if len(argv) > 0 {
		prog = argv[0]
	}
	args := argv[1:]
	if filepath.Base(prog) != "netstat" && len(args) > 0 {
		if cmd := newRootCmd(env); isSubcommand(cmd, args[0]) {
			cmd.SetArgs(args)
			cmd.SetOut(env.Stdout)
			cmd.SetErr(env.Stderr)
			if err := cmd.Execute(); err != nil {
				var ee errExit
				if errors.As(err, &ee) {
					return ee.code
				}
				fmt.Fprintf(env.Stderr, "bpfnetstat: %v\n", err)
				return 1
			}
			return 0
		}
	}
	o, err := parseClassic(prog, args, env)
	if err != nil {
		var ee errExit
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(env.Stderr, "bpfnetstat: %v\n", err)
		return 1
	}
	return runClassic(o, env)
}

func isSubcommand(root *cobra.Command, name string) bool {
	for _, c := range root.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return true
		}
	}
	return false
}

// newRootCmd is the cobra tree for bpfnetstat's own subcommands; the
// classic netstat flags are parsed by the getopt emulation instead, because
// netstat's exact messages and argument permutation are part of its contract.
func newRootCmd(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "bpfnetstat [netstat options]",
		Short:         "netstat, byte for byte, plus exact connection owners from eBPF",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "print bpfnetstat's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), versionText)
			return nil
		},
	})
	root.AddCommand(newTraceCmd(env, false), newTraceCmd(env, true), newDoctorCmd(env), newWatchCmd(env), newTimewaitCmd(env))
	return root
}
