package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

func runArgs(argv ...string) (stdout, stderr string, code int) {
	var out, errb strings.Builder
	env := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = run(argv, env)
	return out.String(), errb.String(), code
}

// complete asks the tree for candidates as a shell script does, and
// returns them without descriptions and the directive line.
func complete(t *testing.T, prog string, words ...string) []string {
	t.Helper()
	out, errs, code := runArgs(append([]string{prog, "__completeNoDesc"}, words...)...)
	if code != 0 {
		t.Fatalf("%s __complete %q: exit %d, %s", prog, words, code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("%s __complete %q: no directive line in %q", prog, words, out)
	}
	return lines[:len(lines)-1]
}

func hasAll(got []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// TestCompletionOffersSubcommandsFlagsAndNetstatOptions: the root completes
// subcommand names, every netstat option (short, long, the short-only -4
// and -6), -A's family names, and each subcommand's own flags.
func TestCompletionOffersSubcommandsFlagsAndNetstatOptions(t *testing.T) {
	if got := complete(t, "bpfnetstat", "li"); !slices.Equal(got, []string{"life"}) {
		t.Errorf("li: %q, want [life]", got)
	}
	if got := complete(t, "bpfnetstat", "t"); !slices.Equal(got, []string{"timewait", "trace"}) {
		t.Errorf("t: %q, want [timewait trace]", got)
	}
	all := complete(t, "bpfnetstat", "")
	if !hasAll(all, "trace", "life", "watch", "timewait", "doctor", "version", "help", "completion") {
		t.Errorf("empty word: %q lacks a subcommand", all)
	}
	opts := complete(t, "bpfnetstat", "-")
	if !hasAll(opts, "-t", "-u", "-l", "-p", "-n", "-A", "-4", "-6", "--tcp", "--numeric-hosts", "--protocol", "--inet6", "--json", "--recent") {
		t.Errorf("-: %q lacks a netstat option", opts)
	}
	if slices.Contains(opts, "-d") || slices.Contains(opts, "--tcpip") || slices.Contains(opts, "trace") {
		t.Errorf("-: %q offers what it should not", opts)
	}
	if got := complete(t, "bpfnetstat", "--num"); !slices.Equal(got, []string{"--numeric", "--numeric-hosts", "--numeric-ports", "--numeric-users"}) {
		t.Errorf("--num: %q", got)
	}
	// After an option no subcommand may follow.
	if got := complete(t, "bpfnetstat", "-t", ""); len(got) != 0 {
		t.Errorf("-t '': %q, want nothing", got)
	}
	for _, words := range [][]string{{"-A", "in"}, {"-tA", "in"}, {"--protocol", "in"}} {
		if got := complete(t, "bpfnetstat", words...); !slices.Equal(got, []string{"inet", "inet6"}) {
			t.Errorf("%q: %q, want [inet inet6]", words, got)
		}
	}
	if got := complete(t, "bpfnetstat", "--protocol=inet,un"); !slices.Equal(got, []string{"--protocol=inet,unix"}) {
		t.Errorf("--protocol=inet,un: %q", got)
	}
	if got := complete(t, "bpfnetstat", "trace", "--p"); !slices.Equal(got, []string{"--pid", "--port"}) {
		t.Errorf("trace --p: %q", got)
	}
	if got := complete(t, "bpfnetstat", "help", "tr"); !slices.Equal(got, []string{"trace"}) {
		t.Errorf("help tr: %q", got)
	}
	if got := complete(t, "bpfnetstat", "completion", ""); !hasAll(got, "bash", "zsh", "fish") {
		t.Errorf("completion '': %q", got)
	}
}

// TestNetstatNameCompletesTheSameOptions: under the name netstat the same
// options complete, and no subcommand does.
func TestNetstatNameCompletesTheSameOptions(t *testing.T) {
	ours := complete(t, "bpfnetstat", "-")
	classic := complete(t, "/usr/sbin/netstat", "-")
	if !slices.Equal(ours, classic) {
		t.Errorf("netstat -: %q\nbpfnetstat -: %q", classic, ours)
	}
	if got := complete(t, "netstat", ""); len(got) != 0 {
		t.Errorf("netstat '': %q, want no subcommand", got)
	}
	if got := complete(t, "netstat", "-A", "inet,"); len(got) < 10 || got[0] != "inet,inet" {
		t.Errorf("netstat -A inet,: %q", got)
	}
	// Only completion requests leave the classic command line.
	for _, word := range []string{"help", "completion", "trace"} {
		out, _, code := runArgs("netstat", word, "-V")
		if code != 0 || !strings.HasPrefix(out, "bpfnetstat ") {
			t.Errorf("netstat %s -V: exit %d, %q (want netstat's -V)", word, code, out)
		}
	}
}

// TestHelpCommand: bpfnetstat help is bpfnetstat -h; help TOPIC is the
// topic's help; an unknown topic fails.
func TestHelpCommand(t *testing.T) {
	h, _, code := runArgs("bpfnetstat", "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	if out, _, code := runArgs("bpfnetstat", "help"); code != 0 || out != h {
		t.Errorf("help: exit %d, output differs from -h:\n%s", code, out)
	}
	if out, _, code := runArgs("bpfnetstat", "help", "trace"); code != 0 || !strings.Contains(out, "bpfnetstat trace [flags]") || !strings.Contains(out, "--pid") {
		t.Errorf("help trace: exit %d, %q", code, out)
	}
	if _, errs, code := runArgs("bpfnetstat", "help", "nosuch"); code != 1 || !strings.Contains(errs, `no help topic "nosuch"`) {
		t.Errorf("help nosuch: exit %d, %q", code, errs)
	}
}

// TestBashCompletionScriptInBash sources the generated bash script in a
// real bash and runs its completion function, with a stand-in bpfnetstat
// on PATH (this test binary, re-entered) answering the __complete calls.
func TestBashCompletionScriptInBash(t *testing.T) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	bash, err := exec.LookPath("bash")
	if _, serr := os.Stat(bashCompletion); err != nil || serr != nil {
		// cobra's bash script needs bash-completion, as every completion
		// script that ships in a Debian package does.
		t.Skip("needs bash and bash-completion (scripts/install-test-deps.sh)")
	}
	script, _, code := runArgs("bpfnetstat", "completion", "bash")
	if code != 0 || !strings.Contains(script, "__start_bpfnetstat") {
		t.Fatalf("completion bash: exit %d", code)
	}
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stub := "#!/bin/sh\nBPFNETSTAT_TEST_REENTER=1 exec " + self + " -test.run='^TestReenter$' -- \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bpfnetstat"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"bpfnetstat", "li"}, "life"},
		{[]string{"bpfnetstat", "--numeric-h"}, "--numeric-hosts"},
		{[]string{"bpfnetstat", "-A", "inet"}, "inet inet6"},
		{[]string{"bpfnetstat", "trace", "--du"}, "--duration"},
		{[]string{"bpfnetstat", "-A", "inet,in"}, "inet,inet inet,inet6"},
	} {
		sh := "source " + bashCompletion + "; source /dev/stdin; COMP_WORDS=(" + strings.Join(tc.words, " ") + "); COMP_CWORD=" +
			string(rune('0'+len(tc.words)-1)) + "; COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}; " +
			"__start_bpfnetstat; echo \"${COMPREPLY[*]}\""
		cmd := exec.Command(bash, "--norc", "-c", sh)
		cmd.Stdin = strings.NewReader(script)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		// Outside a real completion compopt complains on stderr; the
		// candidates are on stdout.
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("bash completion of %q: %q (%v, %s), want %q", tc.words, got, err, errb.String(), tc.want)
		}
	}
}

// TestReenter is the stand-in bpfnetstat of TestBashCompletionScriptInBash.
func TestReenter(t *testing.T) {
	if os.Getenv("BPFNETSTAT_TEST_REENTER") != "1" {
		t.Skip("only run by TestBashCompletionScriptInBash")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	env := cmdutil.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(run(append([]string{"bpfnetstat"}, args...), env))
}
