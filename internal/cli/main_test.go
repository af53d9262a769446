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
