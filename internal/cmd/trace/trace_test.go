package trace

import (
	"io"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil/cmdtest"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TestFlags checks argv -> options for trace and life through the run
// hook: nothing is traced.
func TestFlags(t *testing.T) {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard}
	for _, tc := range []struct {
		life    bool
		args    string
		want    TraceOptions
		wantErr string
	}{
		{args: "", want: TraceOptions{Interval: time.Second}},
		{life: true, args: "", want: TraceOptions{Interval: time.Second, Life: true}},
		{args: "--json --pid 10,20 --pid 30 --port 443", want: TraceOptions{JSON: true, PIDs: []int{10, 20, 30}, Ports: []int{443}, Interval: time.Second}},
		{life: true, args: "-4 --all-namespaces --duration 10s --interval 250ms", want: TraceOptions{V4: true, AllNamespaces: true, Duration: 10 * time.Second, Interval: 250 * time.Millisecond, Life: true}},
		{args: "-6", want: TraceOptions{V6: true, Interval: time.Second}},
		{args: "extra", wantErr: "unknown command"},
		{args: "--pid x", wantErr: "invalid argument"},
		{args: "--pid x", wantErr: `invalid argument "x" for --pid: want positive process IDs, comma-separated`},
		{args: "--pid -5", wantErr: "--pid -5: want positive process IDs"},
		{args: "--pid 0", wantErr: "--pid 0: want positive process IDs"},
		{args: "--port 70000", wantErr: "--port 70000: want port numbers from 1 to 65535"},
		{args: "--port -1", wantErr: "--port -1: want port numbers from 1 to 65535"},
		{args: "--port 0", wantErr: "--port 0: want port numbers from 1 to 65535"},
		{args: "--port 65535", want: TraceOptions{Ports: []int{65535}, Interval: time.Second}},
		{life: true, args: "-4 -6", wantErr: "-4 (--ipv4) and -6 (--ipv6) exclude each other"},
		{life: true, args: "--ipv4 --ipv6", wantErr: "exclude each other"},
		{args: "--interval 0", wantErr: "--interval 0s: want a duration of at least 10ms"},
		{life: true, args: "--interval -1s", wantErr: "--interval -1s: want a duration of at least 10ms"},
		{args: "--interval 9ms", wantErr: "--interval 9ms: want"},
		{args: "--interval 10ms", want: TraceOptions{Interval: 10 * time.Millisecond}},
		{args: "--duration -1s", wantErr: "--duration -1s: want 0 (no limit) or a positive duration"},
		{args: "--duration soon", wantErr: `invalid argument "soon" for --duration: want 0 (no limit)`},
		{args: "--json=maybe", wantErr: `invalid argument "maybe" for --json: want no value, or =true or =false`},
		{args: "--bogus", wantErr: "unknown flag: --bogus"},
	} {
		newCmd := NewTraceCmd
		if tc.life {
			newCmd = NewLifeCmd
		}
		got, err := cmdtest.Parse(newCmd, env, tc.args)
		if !cmdtest.ErrMatches(err, tc.wantErr) || (tc.wantErr == "") != (got != nil) {
			t.Errorf("%q: err %v (run called: %v), want %q", tc.args, err, got != nil, tc.wantErr)
			continue
		}
		if !cmdtest.IsUsage(err) {
			t.Errorf("%q: %v is not a usage error (exit status 2)", tc.args, err)
		}
		if got == nil {
			continue
		}
		got.Env = cmdutil.Env{}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q (life %v): options %+v, want %+v", tc.args, tc.life, *got, tc.want)
		}
	}
}

func TestWants(t *testing.T) {
	v4 := conn.Conn{Family: snapshot.FamilyInet, Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:40000"), Owner: conn.Process{PID: 7}}
	mapped := conn.Conn{Family: snapshot.FamilyInet6, Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"), Remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000")}
	v6 := conn.Conn{Family: snapshot.FamilyInet6, Local: netip.MustParseAddrPort("[::1]:22"), Remote: netip.MustParseAddrPort("[::1]:50000")}
	for _, tc := range []struct {
		name string
		o    TraceOptions
		c    conn.Conn
		want bool
	}{
		{"no filter", TraceOptions{}, v6, true},
		{"-4 keeps IPv4", TraceOptions{V4: true}, v4, true},
		{"-4 keeps IPv4-mapped", TraceOptions{V4: true}, mapped, true},
		{"-4 drops IPv6", TraceOptions{V4: true}, v6, false},
		{"-6 drops IPv4-mapped", TraceOptions{V6: true}, mapped, false},
		{"-4 -6 is both", TraceOptions{V4: true, V6: true}, v6, true},
		{"--pid match", TraceOptions{PIDs: []int{3, 7}}, v4, true},
		{"--pid miss", TraceOptions{PIDs: []int{3}}, v4, false},
		{"--port remote", TraceOptions{Ports: []int{40000}}, v4, true},
		{"--port miss", TraceOptions{Ports: []int{443}}, v4, false},
	} {
		if got := tc.o.wants(&tc.c); got != tc.want {
			t.Errorf("%s: wants = %v", tc.name, got)
		}
	}
}
