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
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

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
	closeLeakedCgroupFD()
	if filepath.Base(os.Args[0]) == "netstat" && sigpipeIgnoredAtStart() {
		// netstat started with SIGPIPE ignored gets EPIPE from its writes,
		// ignores it and runs on (-c until it is stopped); the Go runtime
		// would end the process by SIGPIPE at the first write to a closed
		// stdout unless told to ignore it too.
		signal.Ignore(syscall.SIGPIPE)
	}
	env := cmdutil.Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Stdin:    os.Stdin,
		ProcRoot: "/proc",
		Getenv:   os.Getenv,
		Geteuid:  os.Geteuid,
		Sleep:    sleep,
	}
	return run(os.Args, env)
}

func run(argv []string, env cmdutil.Env) int {
	prog := "bpfnetstat"
	if len(argv) > 0 {
		prog = argv[0]
	}
	args := argv[1:]
	classic := filepath.Base(prog) == "netstat"
	root := newRootCmd(env)
	if len(args) > 0 {
		switch {
		case routedToCobra(root, classic, args[0]):
			if classic {
				root = newNetstatTree(env)
			} else if timed[args[0]] {
				if err := cmdutil.CheckFDs("bpfnetstat "+args[0], cmdutil.RunFDs); err != nil {
					return cmdutil.ExitCode(err, env.Stderr)
				}
			}
			root.SetArgs(args)
			root.SetOut(env.Stdout)
			root.SetErr(env.Stderr)
			return cmdutil.ExitCode(root.Execute(), env.Stderr)
		case !classic && !strings.HasPrefix(args[0], "-"):
			// netstat ignores words that are not options; bpfnetstat
			// takes a word first as a subcommand, so a mistyped one must
			// not turn into a socket listing.
			return cmdutil.ExitCode(cmdutil.Usagef("unknown command %q: %s", args[0], cmdutil.Suggest(root, args[0])), env.Stderr)
		}
	}
	return cmdutil.ExitCode(netstat.Run(prog, args, env, subcommandHelp(root)), env.Stderr)
}

// timed are the subcommands that wait on timers: the Go runtime's timers
// need its poller's two descriptors, and end the process with a fatal
// error when the open-file limit leaves none, so these refuse to start
// without them (the classic views sleep without a timer).
var timed = map[string]bool{"trace": true, "life": true, "watch": true, "timewait": true}

func isSubcommand(root *cobra.Command, name string) bool {
	root.InitDefaultHelpCmd() // "bpfnetstat help trace"
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
	root.SetFlagErrorFunc(cmdutil.FlagError)
	root.AddCommand(
		trace.NewTraceCmd(env, nil),
		trace.NewLifeCmd(env, nil),
		doctor.NewDoctorCmd(env, nil),
		watch.NewWatchCmd(env, nil),
		timewait.NewTimewaitCmd(env, nil),
		version.NewVersionCmd(env, nil),
		agent.NewAgentCmd(env, nil),
	)
	finishTree(root, env)
	return root
}

// subcommandHelp follows netstat's usage text when invoked as bpfnetstat
// -h: one line per subcommand of the tree.
func subcommandHelp(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("\nbpfnetstat subcommands:\n")
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			fmt.Fprintf(&b, "        %-24s %s\n", c.Name(), c.Short)
		}
	}
	b.WriteString("  Run 'bpfnetstat SUBCOMMAND --help' for its options. Any netstat view takes --json.\n")
	return b.String()
}
