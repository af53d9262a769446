package cli

import (
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// TestVersionKeepsShapeButNamesBpfnetstat: -V must not claim to be net-tools.
func TestVersionKeepsShapeButNamesBpfnetstat(t *testing.T) {
	for _, argv := range [][]string{{"netstat", "-V"}, {"bpfnetstat", "--version"}, {"bpfnetstat", "version"}} {
		var out, errb strings.Builder
		env := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		if code := run(argv, env); code != 0 {
			t.Errorf("%v: exit %d", argv, code)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "bpfnetstat ") || strings.Contains(out.String(), "net-tools 2.10\n") {
			t.Errorf("%v: version text %q", argv, out.String())
		}
	}
}

// TestHelpListsTheCommandTree: bpfnetstat -h follows netstat's usage with
// one line per subcommand of the tree; as netstat, -h is netstat's alone.
func TestHelpListsTheCommandTree(t *testing.T) {
	run1 := func(argv ...string) (string, int) {
		var out strings.Builder
		env := cmdutil.Env{Stdout: &out, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }}
		code := run(argv, env)
		return out.String(), code
	}
	help, code := run1("bpfnetstat", "-h")
	if code != 0 || !strings.HasPrefix(help, "usage: netstat") {
		t.Fatalf("bpfnetstat -h: exit %d, %q", code, help)
	}
	for _, c := range newRootCmd(cmdutil.Env{}).Commands() {
		if !strings.Contains(help, "\n        "+c.Name()+" ") || !strings.Contains(help, c.Short+"\n") {
			t.Errorf("bpfnetstat -h does not list %s (%s):\n%s", c.Name(), c.Short, help)
		}
	}
	for _, name := range []string{"trace", "life", "watch", "timewait", "doctor", "version"} {
		if !strings.Contains(help, "\n        "+name+" ") {
			t.Errorf("bpfnetstat -h does not list %s", name)
		}
	}
	classic, code := run1("netstat", "-h")
	if code != 0 || !strings.HasPrefix(help, classic) || strings.Contains(classic, "subcommands") {
		t.Errorf("netstat -h: exit %d, %q", code, classic)
	}
}

// TestBadCommandLines: every bad value, stray word or mistyped subcommand
// of bpfnetstat ends in one line on stderr naming what was wrong, and exit
// status 2; nothing runs.
func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		argv string
		want string
	}{
		{"bpfnetstat trcae", `bpfnetstat: unknown command "trcae": did you mean "trace"?`},
		{"bpfnetstat lfie", `bpfnetstat: unknown command "lfie": did you mean "life"?`},
		{"bpfnetstat wacth --json", `bpfnetstat: unknown command "wacth": did you mean "watch"?`},
		{"bpfnetstat zzzzzz", `bpfnetstat: unknown command "zzzzzz": subcommands: agent, completion, doctor, life, timewait, trace, version, watch`},
		{"bpfnetstat watch --interval 0", "bpfnetstat: --interval 0s: want a duration of at least 10ms, such as 500ms or 2s"},
		{"bpfnetstat watch --interval -1s", "bpfnetstat: --interval -1s: want a duration of at least 10ms, such as 500ms or 2s"},
		{"bpfnetstat life --interval 0", "bpfnetstat: --interval 0s: want a duration of at least 10ms, such as 500ms or 2s"},
		{"bpfnetstat trace --port 70000", "bpfnetstat: --port 70000: want port numbers from 1 to 65535, comma-separated"},
		{"bpfnetstat trace --port -1", "bpfnetstat: --port -1: want port numbers from 1 to 65535, comma-separated"},
		{"bpfnetstat life --pid -5", "bpfnetstat: --pid -5: want positive process IDs, comma-separated"},
		{"bpfnetstat life -4 -6", "bpfnetstat: -4 (--ipv4) and -6 (--ipv6) exclude each other: want one of them, or neither for both"},
		{"bpfnetstat doctor --stats -1s", "bpfnetstat: --stats -1s: want 0 (no limit) or a positive duration, such as 10s or 1m"},
		{"bpfnetstat trace --duration -1s", "bpfnetstat: --duration -1s: want 0 (no limit) or a positive duration, such as 10s or 1m"},
		{"bpfnetstat timewait --count -3", "bpfnetstat: --count -3: want 0 (no limit) or a positive whole number"},
		{"bpfnetstat timewait --count x", `bpfnetstat: invalid argument "x" for --count: want 0 (no limit) or a positive whole number`},
		{"bpfnetstat trace --bogus", "bpfnetstat: unknown flag: --bogus (see 'bpfnetstat trace --help')"},
		{"bpfnetstat version now", `bpfnetstat: unknown command "now" for "bpfnetstat version": version takes no arguments`},
	} {
		var out, errb strings.Builder
		env := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Geteuid: func() int { return 0 }}
		code := run(strings.Fields(tc.argv), env)
		if code != 2 || errb.String() != tc.want+"\n" || out.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q", tc.argv, code, errb.String(), out.String(), tc.want+"\n")
		}
	}
}

// TestStrayWordUnderNetstat: netstat ignores a word that is not an option,
// so the drop-in must too; only bpfnetstat reads a first word as a
// subcommand. (The listing itself is compared with netstat's by e2e.)
func TestStrayWordUnderNetstat(t *testing.T) {
	var errb strings.Builder
	env := cmdutil.Env{Stdout: &strings.Builder{}, Stderr: &errb, Getenv: func(string) string { return "" },
		Geteuid: func() int { return 0 }, ProcRoot: t.TempDir()}
	if code := run([]string{"netstat", "trcae", "--version"}, env); code != 0 || errb.Len() != 0 {
		t.Errorf("netstat trcae --version: exit %d, stderr %q; want netstat's: the word ignored", code, errb.String())
	}
}
