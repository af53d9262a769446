// Package cmdtest helps the command packages' tests check argv -> options
// without running anything: it builds a command with a run hook that only
// keeps the options. Only tests import it.
package cmdtest

import (
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// Parse builds a command with newCmd, runs it on the space-separated args
// with its output discarded, and returns the options its run hook got (nil
// when it was not called) and the command's error. The options' Env is
// the one given.
func Parse[O any](newCmd func(cmdutil.Env, func(*O) error) *cobra.Command, env cmdutil.Env, args string) (*O, error) {
	var got *O
	cmd := newCmd(env, func(o *O) error { got = o; return nil })
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

// IsUsage says whether err is nil or a usage error, the only errors a
// command line may end in before its command runs (exit status 2).
func IsUsage(err error) bool {
	var ue *cmdutil.UsageError
	return err == nil || errors.As(err, &ue)
}

// ErrMatches says whether err is what a case wants: nil for "", else an
// error whose text contains want.
func ErrMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}
