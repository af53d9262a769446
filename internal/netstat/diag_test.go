package netstat

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"golang.org/x/sys/unix"
)

// loopbackTCP opens TCP sockets of both families on loopback: listeners,
// established pairs, TIME_WAIT remnants and an IPv4-mapped pair; it
// returns the listeners' ports, which every row of the test's sockets
// shows. Everything is closed at the end of the test.
func loopbackTCP(t *testing.T) []uint16 {
	t.Helper()
	var ports []uint16
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "[::]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		port := netip.MustParseAddrPort(ln.Addr().String()).Port()
		ports = append(ports, port)
		dial := ln.Addr().String()
		if addr == "[::]:0" { // an IPv4 client: the server's row is IPv4-mapped
			dial = fmt.Sprintf("127.0.0.1:%d", port)
		}
		for i := 0; i < 4; i++ {
			c, err := net.Dial("tcp", dial)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 { // TIME_WAIT
				c.Close()
				s.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
		}
	}
	return ports
}

// ourRows runs the listing and keeps the rows of the test's sockets.
func ourRows(t *testing.T, args []string, source string, ports []uint16) (rows []string, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	env := cmdutil.Env{Stdout: &out, Stderr: &errb, ProcRoot: "/proc",
		Getenv:  func(k string) string { return map[string]string{"BPFNETSTAT_SOURCE": source}[k] },
		Geteuid: func() int { return 0 }}
	if rc := runNetstat(args, env); rc != 0 {
		t.Fatalf("%v: status %d, stderr %q", args, rc, errb.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		for _, p := range ports {
			if strings.Contains(l, fmt.Sprintf(":%d ", p)) {
				rows = append(rows, l)
				break
			}
		}
	}
	return rows, errb.String()
}

// The TCP rows from sock_diag are /proc's, in /proc's order (all tcp
// rows, then all tcp6 rows, each family in the kernel's order), whichever
// way they are dumped: in one dump of both families, with the IPv6 rows
// past the held maximum dumped again, per family when the kernel refuses
// the one dump; a dump that fails after IPv4 rows ends the listing with
// its error, as the IPv4 dump does.
func TestTCPFromDiagOrder(t *testing.T) {
	ports := loopbackTCP(t)
	realBoth, realMax := eachTCPBoth, heldV6Max
	t.Cleanup(func() { eachTCPBoth, heldV6Max = realBoth, realMax })
	var calls int
	counted := func(d *snapshot.Diag, opt snapshot.DiagOptions, fn func(*snapshot.Socket)) error {
		calls++
		return realBoth(d, opt, fn)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		both      func(*snapshot.Diag, snapshot.DiagOptions, func(*snapshot.Socket)) error
		held      int
		wantCalls int
		only4     bool   // the dump failed after the IPv4 rows
		stderr    string // what it says then
	}{
		{name: "one dump", args: []string{"-tan"}, both: counted, held: realMax, wantCalls: 1},
		{name: "one dump, listeners", args: []string{"-tln"}, both: counted, held: realMax, wantCalls: 1},
		{name: "one dump, wide", args: []string{"-tanW"}, both: counted, held: realMax, wantCalls: 1},
		{name: "IPv4 only", args: []string{"-4tan"}, both: counted, held: realMax, wantCalls: 0},
		{name: "IPv6 only", args: []string{"-6tan"}, both: counted, held: realMax, wantCalls: 0},
		{name: "IPv6 rows past the maximum", args: []string{"-tan"}, both: counted, held: 1, wantCalls: 1},
		{name: "kernel without the one dump", args: []string{"-tan"}, held: realMax, wantCalls: 1,
			both: func(*snapshot.Diag, snapshot.DiagOptions, func(*snapshot.Socket)) error {
				calls++
				return fmt.Errorf("%w: %v", snapshot.ErrDiagUnsupported, unix.EOPNOTSUPP)
			}},
		{name: "failure after the IPv4 rows", args: []string{"-tan"}, held: realMax, wantCalls: 1, only4: true,
			stderr: "netstat: sock_diag: receive: no buffer space available\n",
			both: func(d *snapshot.Diag, opt snapshot.DiagOptions, fn func(*snapshot.Socket)) error {
				calls++
				if err := realBoth(d, opt, fn); err != nil {
					return err
				}
				return fmt.Errorf("sock_diag: receive: %w", unix.ENOBUFS)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachTCPBoth, heldV6Max, calls = tc.both, tc.held, 0
			want, _ := ourRows(t, tc.args, "proc", ports)
			if tc.only4 {
				want = slicesFilter(want, func(l string) bool { return strings.HasPrefix(l, "tcp ") })
			}
			got, stderr := ourRows(t, tc.args, "", ports)
			if calls != tc.wantCalls {
				t.Errorf("%d one-dump listings, want %d", calls, tc.wantCalls)
			}
			if stderr != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr, tc.stderr)
			}
			v4 := !slicesContainPrefix(tc.args, "-6")
			v6 := !slicesContainPrefix(tc.args, "-4") && !tc.only4
			if len(want) < 3 || v4 != slicesContainPrefix(want, "tcp ") || v6 != slicesContainPrefix(want, "tcp6 ") {
				t.Fatalf("the test's sockets are not listed by /proc: %q", want)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("sock_diag rows:\n%s\n/proc rows:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func slicesFilter(s []string, keep func(string) bool) []string {
	var out []string
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func slicesContainPrefix(s []string, prefix string) bool {
	for _, v := range s {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}
