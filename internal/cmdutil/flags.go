package cmdutil

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// UsageError is a command line that cannot run: a flag of the wrong type
// or out of range, a stray argument, a mistyped subcommand. ExitCode
// prints it on one line and exits 2, the status of a usage error, so a
// script can tell a bad invocation from a failed run (1).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef is a UsageError with a formatted message.
func Usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// What the flags of bpfnetstat's subcommands accept. Each text follows
// "want" in the one-line error of a flag given something else, and each
// check below uses its own, so the message and the rule cannot drift apart.
const (
	WantInterval = "a duration of at least 10ms, such as 500ms or 2s"
	WantTimeout  = "0 (no limit) or a positive duration, such as 10s or 1m"
	WantPorts    = "port numbers from 1 to 65535, comma-separated"
	WantPIDs     = "positive process IDs, comma-separated"
	WantCount    = "0 (no limit) or a positive whole number"
	WantPositive = "a positive whole number"
	WantBool     = "no value, or =true or =false"
)

// MinInterval is the shortest refresh or polling period: below it a view
// spends its time redrawing, and 0 would stop a ticker.
const MinInterval = 10 * time.Millisecond

const wantAnnotation = "bpfnetstat_want"

// Allowed records what flag name of fs accepts, for the message of a
// value that does not parse (FlagError).
func Allowed(fs *pflag.FlagSet, name, want string) {
	if err := fs.SetAnnotation(name, wantAnnotation, []string{want}); err != nil {
		panic(err) // a flag that is not defined: a programming error
	}
}

// FlagError is every subcommand's cobra FlagErrorFunc: a value that does
// not parse, an unknown flag or a missing argument becomes a UsageError
// naming the flag and what it accepts.
func FlagError(cmd *cobra.Command, err error) error {
	var bad *pflag.InvalidValueError
	if errors.As(err, &bad) {
		f := bad.GetFlag()
		want := "a value of type " + f.Value.Type()
		if w := f.Annotations[wantAnnotation]; len(w) == 1 {
			want = w[0]
		} else if f.Value.Type() == "bool" {
			want = WantBool
		}
		return Usagef("invalid argument %q for --%s: want %s", bad.GetValue(), f.Name, want)
	}
	return Usagef("%v (see 'bpfnetstat %s --help')", err, cmd.Name())
}

// NoArgs is cobra.NoArgs as a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unknown command %q for %q: %s takes no arguments", args[0], cmd.CommandPath(), cmd.Name())
	}
	return nil
}

// CheckInterval refuses a refresh or polling period under MinInterval.
func CheckInterval(name string, d time.Duration) error {
	if d < MinInterval {
		return Usagef("--%s %v: want %s", name, d, WantInterval)
	}
	return nil
}

// CheckTimeout refuses a negative time limit; 0 means none.
func CheckTimeout(name string, d time.Duration) error {
	if d < 0 {
		return Usagef("--%s %v: want %s", name, d, WantTimeout)
	}
	return nil
}

// CheckPorts refuses anything outside 1-65535: a port that cannot exist
// would otherwise match its value modulo 65536.
func CheckPorts(name string, ports []int) error {
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return Usagef("--%s %d: want %s", name, p, WantPorts)
		}
	}
	return nil
}

// CheckPIDs refuses process IDs that are not positive.
func CheckPIDs(name string, pids []int) error {
	for _, p := range pids {
		if p < 1 || p > 1<<22 { // PID_MAX_LIMIT
			return Usagef("--%s %d: want %s", name, p, WantPIDs)
		}
	}
	return nil
}

// CheckCount refuses a negative count; 0 means no limit.
func CheckCount(name string, n int) error {
	if n < 0 {
		return Usagef("--%s %d: want %s", name, n, WantCount)
	}
	return nil
}

// CheckPositive refuses a count below 1.
func CheckPositive(name string, n int) error {
	if n < 1 {
		return Usagef("--%s %d: want %s", name, n, WantPositive)
	}
	return nil
}

// CheckExclusive refuses two flags given together; each name is the long
// one, with its shorthand after a slash when it has one ("ipv4/4").
func CheckExclusive(fs *pflag.FlagSet, a, b string) error {
	if fs.Changed(a) && fs.Changed(b) {
		return Usagef("%s and %s exclude each other: want one of them, or neither for both", flagText(fs, a), flagText(fs, b))
	}
	return nil
}

func flagText(fs *pflag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil && f.Shorthand != "" {
		return "-" + f.Shorthand + " (--" + name + ")"
	}
	return "--" + name
}

// FirstError is the first non-nil error of a command's checks.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Suggest names the subcommands of root closest to a mistyped one, as
// cobra's suggestions do (Levenshtein distance, or a prefix), for the one
// line of an unknown command.
func Suggest(root *cobra.Command, typed string) string {
	root.SuggestionsMinimumDistance = 2
	s := root.SuggestionsFor(typed)
	if len(s) == 0 {
		var names []string
		for _, c := range root.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		return "subcommands: " + strings.Join(names, ", ")
	}
	return "did you mean " + strings.Join(quoteAll(s), " or ") + "?"
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}
