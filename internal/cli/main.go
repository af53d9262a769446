// Package cli is bpfnetstat's root command: Main builds the environment
// from the process (the only place that reads os.Args, the environment,
// the euid and the standard streams), routes argv to the classic netstat
// command line or to a subcommand of the cobra tree, generates the
// subcommand list of -h from that tree, and maps every error to an exit
// status in one place (cmdutil.ExitCode).
//
// It imports the command packages (internal/netstat, internal/cmd/...);
// nothing imports it but cmd/bpfnetstat.
package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/internal/cmd/agent"
	"github.com/bpfnetstat/bpfnetstat/internal/cmd/doctor"
	"github.com/bpfnetstat/bpfnetstat/internal/cmd/timewait"
	"github.com/bpfnetstat/bpfnetstat/internal/cmd/trace"
	"github.com/bpfnetstat/bpfnetstat/internal/cmd/version"
	"github.com/bpfnetstat/bpfnetstat/internal/cmd/watch"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/netstat"
)

// Main runs bpfnetstat with os.Args and returns the process exit status.
// Invoked under the name "netstat" it is the classic tool, messages and
// exit statuses included.
func Main() int {
	env := cmdutil.Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Stdin:    os.Stdin,
		ProcRoot: "/proc",
		Getenv:   os.Getenv,
		Geteuid:  os.Geteuid,
		Sleep:    time.Sleep,
	}
	return run(os.Args, env)
}

func run(argv []string, env cmdutil.Env) int {
	prog := "bpfnetstat"
	if len(argv) > 0 {
		prog = argv[0]
	}
	args := argv[1:]
	root := newRootCmd(env)
	if filepath.Base(prog) != "netstat" && len(args) > 0 && isSubcommand(root, args[0]) {
		root.SetArgs(args)
		root.SetOut(env.Stdout)
		root.SetErr(env.Stderr)
		return cmdutil.ExitCode(root.Execute(), env.Stderr)
	}
	return cmdutil.ExitCode(netstat.Run(prog, args, env, subcommandHelp(root)), env.Stderr)
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
func newRootCmd(env cmdutil.Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "bpfnetstat [netstat options]",
		Short:         "netstat, byte for byte, plus exact connection owners from eBPF",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		trace.NewTraceCmd(env, nil),
		trace.NewLifeCmd(env, nil),
		doctor.NewDoctorCmd(env, nil),
		watch.NewWatchCmd(env, nil),
		timewait.NewTimewaitCmd(env, nil),
		version.NewVersionCmd(env, nil),
		agent.NewAgentCmd(env, nil),
	)
	return root
}

// subcommandHelp follows netstat's usage text when invoked as bpfnetstat
// -h: one line per subcommand of the tree.
func subcommandHelp(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("\nbpfnetstat subcommands (eBPF, root):\n")
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			fmt.Fprintf(&b, "        %-24s %s\n", c.Name(), c.Short)
		}
	}
	b.WriteString("  Run 'bpfnetstat SUBCOMMAND --help' for its options. Any netstat view takes --json.\n")
	return b.String()
}
