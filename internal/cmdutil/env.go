// Package cmdutil is what every command of bpfnetstat shares: the
// environment a command runs in (Env, which tests replace), the exit-status
// error and the one function that turns errors into exit statuses, the
// version text, and the few decisions taken from the environment (owner
// scan options, the tracer's network namespace, why BPF is unavailable).
//
// Only the command layer imports it. It must never import the command
// packages themselves (internal/cli, internal/netstat, internal/cmd/...).
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Env is what a command reads from its surroundings. Main builds it from
// the process; tests replace any part of it.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	ProcRoot       string
	Getenv         func(string) string
	Geteuid        func() int
	Sleep          func(time.Duration)
}

// ExitError ends the program with a status after its message was printed.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode is the exit status of a command's error: 0 for nil, the status
// of an ExitError (whose message is already out), 2 for a UsageError and
// 1 for any other error, both after printing the error once on one line,
// prefixed "bpfnetstat:".
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintf(stderr, "bpfnetstat: %s\n", oneLine(err.Error()))
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// oneLine keeps an error on its line: a newline inside it (a wrapped
// message, a value given on the command line) is shown as \n.
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", `\n`)
}

// Version is bpfnetstat's version, set at build time with -ldflags -X.
var Version = "0.1.0-dev"

// VersionText keeps the shape of netstat -V but names bpfnetstat: it must
// not claim to be net-tools.
func VersionText() string {
	return "bpfnetstat " + Version + "\n" +
		"netstat (net-tools 2.10) compatible socket listing, with eBPF connection tracing\n" +
		"+JSON +SOCK_DIAG +EBPF\n" +
		"AF: (inet) +UNIX +INET +INET6\n" +
		"HW:  none\n"
}
