package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/netstat"
)

// builtins are the commands cobra adds to the tree itself (help and
// completion when the tree is built, the hidden completion requests when it
// runs); the router sends them to cobra like any subcommand.
var builtins = []string{"help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd}

// CommandTree is the cobra tree under the name the program runs as: for
// "bpfnetstat" the subcommands, help and completion; for "netstat" the
// classic options alone (no subcommands), which is what a completion
// script for the netstat drop-in offers. Both carry netstat's options as
// completion-only flags. The documentation generator reads it; the router
// runs it.
func CommandTree(name string, env cmdutil.Env) *cobra.Command {
	if name == "netstat" {
		return newNetstatTree(env)
	}
	return newRootCmd(env)
}

// newNetstatTree is the tree the netstat drop-in completes with: netstat's
// options and nothing else.
func newNetstatTree(env cmdutil.Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "netstat",
		Short:         "print network connections, routing tables, interface statistics, masquerade connections and multicast memberships",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Never run: the router sends only completion requests here.
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	addClassicCompletion(root)
	return root
}

// finishTree adds what every bpfnetstat tree has besides its subcommands:
// netstat's options for completion, the help and completion commands, and
// a help text for the root that is netstat's usage with the subcommands.
func finishTree(root *cobra.Command, env cmdutil.Env) {
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.DisableFlagsInUseLine = true
	addClassicCompletion(root)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Short = "help about any command (bpfnetstat help: the netstat options too)"
			c.Run = nil
			c.RunE = func(_ *cobra.Command, args []string) error {
				cmd, _, err := root.Find(args)
				if err != nil || cmd == nil {
					fmt.Fprintf(env.Stderr, "bpfnetstat: no help topic %q\n%s", strings.Join(args, " "), subcommandHelp(root))
					return cmdutil.ExitError{Code: 1}
				}
				cmd.InitDefaultHelpFlag()
				return cmd.Help()
			}
		case "completion":
			c.Short = "print the shell completion script for bash, zsh, fish or powershell"
		}
	}

	subHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c != root {
			subHelp(c, args)
			return
		}
		// bpfnetstat help: the same text as bpfnetstat -h.
		_ = netstat.Run(root.Name(), []string{"-h"}, env, subcommandHelp(root))
	})
	subUsage := root.UsageFunc()
	root.SetUsageFunc(func(c *cobra.Command) error {
		if c != root {
			return subUsage(c)
		}
		_, err := io.WriteString(c.ErrOrStderr(), subcommandHelp(root))
		return err
	})
}

// addClassicCompletion registers netstat's options on root for completion
// only. Cobra never parses them (DisableFlagParsing; the router hands the
// classic command line to the getopt emulation), so they cannot change how
// netstat's options behave; they exist so that the generated completion
// scripts offer them, with their meaning as the description.
func addClassicCompletion(root *cobra.Command) {
	root.DisableFlagParsing = true
	fs := root.Flags()
	var shortOnly []cobra.Completion
	for _, o := range netstat.Options() {
		switch {
		case o.Long == "":
			shortOnly = append(shortOnly, cobra.CompletionWithDesc("-"+o.Short, o.Usage))
		case o.Arg != "":
			fs.StringP(o.Long, o.Short, "", o.Usage)
		default:
			fs.BoolP(o.Long, o.Short, false, o.Usage)
		}
	}
	root.ValidArgsFunction = func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		switch {
		case strings.HasPrefix(toComplete, "--protocol="):
			out = completeFamilies("--protocol=", strings.TrimPrefix(toComplete, "--protocol="))
		case len(args) > 0 && takesFamily(args[len(args)-1]):
			out = completeFamilies("", toComplete)
		case strings.HasPrefix(toComplete, "-") && !strings.HasPrefix(toComplete, "--"):
			// Cobra completes the options that have a long name; -4 and -6
			// have none, so they are offered here.
			for _, c := range shortOnly {
				if strings.HasPrefix(c, toComplete) {
					out = append(out, c)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// takesFamily reports whether word, the word before the one being
// completed, is an option whose argument is an address-family list: -A,
// --protocol (or a unique abbreviation of it), or a cluster ending in A.
func takesFamily(word string) bool {
	if strings.HasPrefix(word, "--") {
		return len(word) >= len("--prot") && strings.HasPrefix("--protocol", word)
	}
	return len(word) >= 2 && word[0] == '-' && strings.IndexByte(word, 'A') == len(word)-1
}

// completeFamilies completes the last element of a comma-separated family
// list; prefix is what precedes the list in the word (--protocol=).
func completeFamilies(prefix, list string) []cobra.Completion {
	done, last := "", list
	if i := strings.LastIndexByte(list, ','); i >= 0 {
		done, last = list[:i+1], list[i+1:]
	}
	var out []cobra.Completion
	for _, f := range netstat.Families() {
		if !strings.HasPrefix(f[0], last) {
			continue
		}
		if done != "" {
			// Without a description: cobra's bash script compares a
			// described candidate in its %q form, where the comma is
			// escaped, with the typed word, and drops it.
			out = append(out, prefix+done+f[0])
			continue
		}
		out = append(out, cobra.CompletionWithDesc(prefix+done+f[0], f[1]))
	}
	return out
}

// routedToCobra reports whether argv's first argument goes to the cobra
// tree rather than to the classic command line. Under the name netstat
// only the completion requests of its own completion script do, so every
// netstat command line stays the classic tool's.
func routedToCobra(root *cobra.Command, classic bool, first string) bool {
	if classic {
		return first == cobra.ShellCompRequestCmd || first == cobra.ShellCompNoDescRequestCmd
	}
	for _, b := range builtins {
		if first == b {
			return true
		}
	}
	return isSubcommand(root, first)
}
