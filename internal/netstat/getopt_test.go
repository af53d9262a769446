package netstat

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// collect returns the options getopt reports, as "v:arg" strings, and the
// error messages.
func collect(args []string, posix bool) (opts []string, msgs string) {
	getopt("netstat", args, netstatShort, netstatLong, posix, func(p parsedOpt) bool {
		switch {
		case p.val == '?':
			opts = append(opts, "?")
			msgs += p.errMsg
		case p.val == afTrans:
			opts = append(opts, "af:"+netstatLong[p.index].name)
		case p.arg != "":
			opts = append(opts, string(p.val)+":"+p.arg)
		default:
			opts = append(opts, string(p.val))
		}
		return true
	})
	return opts, msgs
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		args  []string
		posix bool
		want  []string
		msgs  string
	}{
		{args: []string{"-tulpn"}, want: []string{"t", "u", "l", "p", "n"}},
		{args: []string{"foo", "-tln", "bar"}, want: []string{"t", "l", "n"}},
		{args: []string{"-Ainet6"}, want: []string{"A:inet6"}},
		{args: []string{"-A", "inet6", "-t"}, want: []string{"A:inet6", "t"}},
		{args: []string{"-tA", "unix"}, want: []string{"t", "A:unix"}},
		{args: []string{"-A"}, want: []string{"?"}, msgs: "netstat: option requires an argument -- 'A'\n"},
		{args: []string{"-Q"}, want: []string{"?"}, msgs: "netstat: invalid option -- 'Q'\n"},
		{args: []string{"-?"}, want: []string{"?"}},
		{args: []string{"--bogus"}, want: []string{"?"}, msgs: "netstat: unrecognized option '--bogus'\n"},
		{args: []string{"--bogus=1"}, want: []string{"?"}, msgs: "netstat: unrecognized option '--bogus=1'\n"},
		{args: []string{"--ver"}, want: []string{"?"}, msgs: "netstat: option '--ver' is ambiguous; possibilities: '--version' '--verbose'\n"},
		{args: []string{"--in"}, want: []string{"?"}, msgs: "netstat: option '--in' is ambiguous; possibilities: '--inet' '--interfaces'\n"},
		{args: []string{"--ine"}, want: []string{"af:inet"}},
		{args: []string{"--tcp=x"}, want: []string{"?"}, msgs: "netstat: option '--tcp' doesn't allow an argument\n"},
		{args: []string{"--prog", "--numeric-h"}, want: []string{"p", "!"}},
		{args: []string{"--protocol=inet"}, want: []string{"A:inet"}},
		{args: []string{"--protocol", "unix"}, want: []string{"A:unix"}},
		{args: []string{"--protocol"}, want: []string{"?"}, msgs: "netstat: option '--protocol' requires an argument\n"},
		{args: []string{"--unix"}, want: []string{"af:unix"}},
		{args: []string{"--tcpip"}, want: []string{"af:tcpip"}},
		{args: []string{"--", "-t"}, want: nil},
		{args: []string{"-t", "foo", "-u"}, posix: true, want: []string{"t"}},
		{args: []string{"-", "-t"}, want: []string{"t"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, msgs := collect(tt.args, tt.posix)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			if msgs != tt.msgs {
				t.Errorf("messages = %q, want %q", msgs, tt.msgs)
			}
		})
	}
}

func TestParseClassicDerivedSelection(t *testing.T) {
	env := cmdutil.Env{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }}
	tests := []struct {
		args             []string
		arg              int
		inet, inet6, unx int
		noprot           bool
	}{
		{args: nil, arg: 0},
		{args: []string{"-t"}, arg: 1, inet: 1, inet6: 1},
		{args: []string{"-A", "inet"}, arg: 5, inet: 1, noprot: true},
		{args: []string{"-A", "inet,unix"}, arg: 6, inet: 1, unx: 1, noprot: true},
		{args: []string{"-4", "-6"}, arg: 5, inet: 1, inet6: 1, noprot: true},
		{args: []string{"-x"}, arg: 1, unx: 1},
		{args: []string{"-6", "-u"}, arg: 1, inet6: 1},
	}
	for _, tt := range tests {
		o, err := parseClassic("netstat", tt.args, env, "")
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if o.arg != tt.arg || o.inet != tt.inet || o.inet6 != tt.inet6 || o.unx != tt.unx || o.noprot != tt.noprot {
			t.Errorf("%v: arg=%d inet=%d inet6=%d unix=%d noprot=%v, want %+v", tt.args, o.arg, o.inet, o.inet6, o.unx, o.noprot, tt)
		}
	}
}

func TestParseClassicImmediateActions(t *testing.T) {
	tests := []struct {
		args      []string
		code      int
		stdoutHas string
		stderrHas string
	}{
		{args: []string{"-h", "-Q"}, code: 0, stdoutHas: "usage: netstat", stderrHas: "inet (DARPA Internet)"},
		{args: []string{"-Q", "-h"}, code: 3, stderrHas: "invalid option -- 'Q'\nusage: netstat"},
		{args: []string{"-A", "bogus"}, code: 1, stderrHas: "Unknown address family `bogus'.\n"},
		{args: []string{"-Z"}, code: 1, stderrHas: "SELinux is not enabled on this machine.\n"},
		{args: []string{"-rr"}, code: 3, stderrHas: "usage: netstat"},
		{args: []string{"-i", "-s"}, code: 3, stderrHas: "usage: netstat"},
	}
	for _, tt := range tests {
		var out, errb strings.Builder
		env := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		_, err := parseClassic("netstat", tt.args, env, "")
		ee, ok := err.(cmdutil.ExitError)
		if !ok || ee.Code != tt.code {
			t.Errorf("%v: err = %v, want exit %d", tt.args, err, tt.code)
		}
		if !strings.Contains(out.String(), tt.stdoutHas) || !strings.Contains(errb.String(), tt.stderrHas) {
			t.Errorf("%v: stdout %q stderr %q", tt.args, out.String(), errb.String())
		}
	}
}

// TestParseClassicIdentityFlags: --identity, --cgroup and --container are
// bpfnetstat's; under the netstat name they are unknown, as in net-tools,
// and netstat's own abbreviations keep their meaning.
func TestParseClassicIdentityFlags(t *testing.T) {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	o, err := parseClassic("bpfnetstat", []string{"-tlp", "--identity", "--cgroup", "/system.slice", "--container=abc"}, env, "")
	if err != nil || !o.identity || o.cgroup != "/system.slice" || o.container != "abc" || !o.identityAsked() {
		t.Fatalf("bpfnetstat: %+v, %v", o, err)
	}
	if o, err := parseClassic("bpfnetstat", []string{"-tlp"}, env, ""); err != nil || o.identityAsked() {
		t.Errorf("plain -p asks for identities: %+v, %v", o, err)
	}
	if o, err := parseClassic("bpfnetstat", []string{"-tlp", "--json"}, env, ""); err != nil || !o.identityAsked() {
		t.Errorf("-p --json does not ask for identities: %+v, %v", o, err)
	}
	for _, arg := range []string{"--identity", "--cgroup=/", "--container=abc"} {
		var errb strings.Builder
		env := cmdutil.Env{Stdout: io.Discard, Stderr: &errb, Getenv: func(string) string { return "" }}
		_, err := parseClassic("netstat", []string{"-tl", arg}, env, "")
		if ee, ok := err.(cmdutil.ExitError); !ok || ee.Code != 3 || !strings.Contains(errb.String(), "unrecognized option '"+arg+"'") {
			t.Errorf("netstat %s: %v, %q", arg, err, errb.String())
		}
	}
	// --cont is still netstat's ambiguity, --conti its --continuous.
	if o, err := parseClassic("bpfnetstat", []string{"--conti"}, env, ""); err != nil || o.cnt != 1 {
		t.Errorf("--conti: %+v, %v", o, err)
	}
}
