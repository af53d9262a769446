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
