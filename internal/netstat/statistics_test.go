package netstat

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// The -s and -i tests run the classic command on fixture /proc trees and
// compare stdout, stderr and the exit status with what the real netstat
// printed for the same files. -update-ifstats regenerates those goldens: it runs
// /usr/bin/netstat as root in a private mount namespace whose /proc is a
// tmpfs holding the fixture (and, for -i, in a network namespace holding
// the interfaces the fixtures name).
var isUpdate = flag.Bool("update-ifstats", false, "regenerate the netstat goldens with the real netstat (root)")

// isGolden is what netstat printed for one command line.
type isGolden struct {
	args           string
	stdout, stderr string
	status         int
}

const (
	isGoldenCmd    = "#### netstat "
	isGoldenStdout = "#### stdout\n"
	isGoldenStderr = "#### stderr\n"
	isGoldenStatus = "#### status "
)

// isReadGoldens reads a golden file: for each command line, "#### netstat
// ARGS", "#### stdout", its text, "#### stderr", its text, "#### status N".
// Both texts end with a newline or are empty.
func isReadGoldens(t *testing.T, path string) []isGolden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []isGolden
	var g *isGolden
	var cur *string
	for line := range strings.Lines(string(b)) {
		switch {
		case strings.HasPrefix(line, isGoldenCmd):
			out = append(out, isGolden{args: strings.TrimSuffix(strings.TrimPrefix(line, isGoldenCmd), "\n")})
			g, cur = &out[len(out)-1], nil
		case g != nil && line == isGoldenStdout:
			cur = &g.stdout
		case g != nil && line == isGoldenStderr:
			cur = &g.stderr
		case g != nil && strings.HasPrefix(line, isGoldenStatus):
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, isGoldenStatus)))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			g.status, cur = n, nil
		case cur != nil:
			*cur += line
		default:
			t.Fatalf("%s: unexpected line %q", path, line)
		}
	}
	return out
}

func isWriteGoldens(t *testing.T, path string, gs []isGolden) {
	t.Helper()
	var b strings.Builder
	for _, g := range gs {
		for _, s := range []string{g.stdout, g.stderr} {
			if s != "" && !strings.HasSuffix(s, "\n") {
				t.Fatalf("netstat %s: output without a final newline cannot be stored: %q", g.args, s)
			}
		}
		fmt.Fprintf(&b, "%s%s\n%s%s%s%s%s%d\n", isGoldenCmd, g.args, isGoldenStdout, g.stdout, isGoldenStderr, g.stderr, isGoldenStatus, g.status)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isRealNetstat runs /usr/bin/netstat ARGS with /proc replaced by the fixture
// tree root (whose net/ directory becomes /proc/net), inside network
// namespace ns when it is not empty.
func isRealNetstat(t *testing.T, root, ns, args string) isGolden {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	script := `mount -t tmpfs none /proc && cp -r "$0"/. /proc/ && exec /usr/bin/netstat "$@"`
	argv := append([]string{"unshare", "-m", "sh", "-c", script, abs}, strings.Fields(args)...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return isGolden{args: args, stdout: stdout.String(), stderr: stderr.String(), status: status}
}

// isRun runs the classic command like netstat ARGS on env and returns
// what it printed.
func isRun(args string, env cmdutil.Env) isGolden {
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr = &stdout, &stderr
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Geteuid == nil {
		env.Geteuid = func() int { return 0 }
	}
	if env.Sleep == nil {
		env.Sleep = func(time.Duration) {}
	}
	status := runNetstat(strings.Fields(args), env)
	return isGolden{args: args, stdout: stdout.String(), stderr: stderr.String(), status: status}
}

func isCompare(t *testing.T, want, got isGolden) {
	t.Helper()
	if got.stdout != want.stdout {
		t.Errorf("netstat %s: stdout differs\n--- netstat:\n%s--- bpfnetstat:\n%s", want.args, want.stdout, got.stdout)
	}
	if got.stderr != want.stderr {
		t.Errorf("netstat %s: stderr = %q, want %q", want.args, got.stderr, want.stderr)
	}
	if got.status != want.status {
		t.Errorf("netstat %s: status = %d, want %d", want.args, got.status, want.status)
	}
}

// isStatsArgs are the command lines every statistics fixture is run with.
var isStatsArgs = []string{
	"-s", "-st", "-su", "-sw", "-sU", "-sS", "-stu", "-s -c",
	"-s6", "-st6", "-su6", "-sw6", "-s -A inet6 -t",
	"-s -A inet,inet6", "-s -x",
}

const isStatsFixtures = "../../snapshot/testdata/stats"

// TestStatisticsGolden runs -s on every fixture of snapshot/testdata/stats
// (real captures and hand-made files: header only, broken pairs, unknown
// counters, missing files, ...).
func TestStatisticsGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(isStatsFixtures, "*", "net"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, net := range dirs {
		root := filepath.Dir(net)
		path := filepath.Join(root, "netstat.isGolden")
		t.Run(filepath.Base(root), func(t *testing.T) {
			if *isUpdate {
				var gs []isGolden
				for _, args := range isStatsArgs {
					gs = append(gs, isRealNetstat(t, root, "", args))
				}
				isWriteGoldens(t, path, gs)
			}
			for _, want := range isReadGoldens(t, path) {
				isCompare(t, want, isRun(want.args, cmdutil.Env{ProcRoot: root}))
			}
		})
	}
}

// TestStatisticsJSON checks the machine form: one object per shown section,
// counters in the kernel's order, disabled known sections left out.
func TestStatisticsJSON(t *testing.T) {
	root := filepath.Join(isStatsFixtures, "histograms")
	got := isRun("-sw --json", cmdutil.Env{ProcRoot: root})
	want := `[
{"section":"Icmp","file":"snmp","counters":{"OutEchos":1,"InEchos":2,"InMsgs":3,"OutDestUnreachs":0,"InDestUnreachs":0,"OutMsgs":4,"Weird":5}},
{"section":"IcmpMsg","file":"snmp","counters":{"InType3":3,"OutType0":4}},
{"section":"UdpLite","file":"snmp","counters":{"InDatagrams":0}},
{"section":"Foo","file":"netstat","counters":{"A":2}}
]
`
	if got.stdout != want || got.stderr != "" || got.status != 0 {
		t.Errorf("got stdout:\n%s\nstderr %q, status %d; want stdout:\n%s", got.stdout, got.stderr, got.status, want)
	}
	empty := isRun("-s --json", cmdutil.Env{ProcRoot: filepath.Join(isStatsFixtures, "empty")})
	if empty.stdout != "[]\n" {
		t.Errorf("no sections: stdout %q, want %q", empty.stdout, "[]\n")
	}
}

// runNetstat runs the classic command as "netstat ARGS" and returns its
// exit status.
func runNetstat(args []string, env cmdutil.Env) int {
	prog := "netstat"
	if slices.Contains(args, "--json") {
		prog = "bpfnetstat" // the netstat name refuses --json, as net-tools does
	}
	return cmdutil.ExitCode(Run(prog, args, env, ""), env.Stderr)
}
