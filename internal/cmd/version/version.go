// Package version is the version subcommand: bpfnetstat's version, in the
// shape of netstat -V.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package version

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// VersionOptions are version's (no) flags.
type VersionOptions struct {
	Env cmdutil.Env
}

const (
	versionLong = "version prints bpfnetstat's version and what it was built with, in the " +
		"shape of netstat -V (which prints the same), without claiming to be net-tools."
	versionExample = `  bpfnetstat version
  bpfnetstat -V`
)

// NewVersionCmd is the version subcommand; runF, when not nil, replaces
// VersionRun.
func NewVersionCmd(env cmdutil.Env, runF func(*VersionOptions) error) *cobra.Command {
	o := &VersionOptions{Env: env}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "print bpfnetstat's version",
		Long:    versionLong,
		Example: versionExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return VersionRun(o)
		},
	}
	cmd.SetFlagErrorFunc(cmdutil.FlagError)
	return cmd
}

// VersionRun prints the version text.
func VersionRun(o *VersionOptions) error {
	_, err := io.WriteString(o.Env.Stdout, cmdutil.VersionText())
	return err
}
