package doctor

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil/cmdtest"
)

func TestFlags(t *testing.T) {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard}
	for _, tc := range []struct {
		args    string
		want    time.Duration
		wantErr string
	}{
		{args: "", want: 0},
		{args: "--stats 5s", want: 5 * time.Second},
		{args: "--stats five", wantErr: "invalid argument"},
		{args: "now", wantErr: "unknown command"},
		{args: "--stats -1s", wantErr: "--stats -1s: want 0 (no limit) or a positive duration"},
		{args: "--stats five", wantErr: `invalid argument "five" for --stats: want 0 (no limit) or a positive duration`},
	} {
		got, err := cmdtest.Parse(NewDoctorCmd, env, tc.args)
		if !cmdtest.ErrMatches(err, tc.wantErr) || (tc.wantErr == "") != (got != nil) {
			t.Errorf("%q: err %v (run called: %v), want %q", tc.args, err, got != nil, tc.wantErr)
			continue
		}
		if !cmdtest.IsUsage(err) {
			t.Errorf("%q: %v is not a usage error (exit status 2)", tc.args, err)
		}
		if got != nil && got.Stats != tc.want {
			t.Errorf("%q: stats %v, want %v", tc.args, got.Stats, tc.want)
		}
	}
}

// TestDoctorDegraded: as root, without an accept hook, doctor says which
// owners degrade and why, and still exits 0 (the tracer runs); with every
// hook it says nothing of the kind.
func TestDoctorDegraded(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatal("doctor loads BPF programs: needs root, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping")
		}
		t.Skip("doctor loads BPF programs: needs root")
	}
	for _, skip := range []bool{false, true} {
		var out strings.Builder
		env := cmdutil.Env{Stdout: &out, Stderr: io.Discard, Geteuid: os.Geteuid, Getenv: func(string) string { return "" }}
		if err := DoctorRun(&DoctorOptions{Env: env, skipAccept: skip}); err != nil {
			t.Fatalf("skip accept %v: %v\n%s", skip, err, out.String())
		}
		const want = `degraded: no accept hook attached (lsm/sock_graft: not attached: the configuration skips this role): ` +
			`a connection accepted by another process than the listener's owner (the children of a pre-fork server) is credited to the listener's owner, owner_source "listener"; fix: `
		if got := strings.Contains(out.String(), "\n"+want); got != skip {
			t.Errorf("skip accept %v: degraded line present: %v\n%s", skip, got, out.String())
		}
		for _, hook := range []string{`lsm/sock_graft`, `tracepoint/syscalls/sys_exit_accept4 \(plain loads\)`} {
			if skip && !regexp.MustCompile(`(?m)^accept +`+hook+` +failed: not attached: the configuration skips this role; fix: `).MatchString(out.String()) {
				t.Errorf("the accept hook %s's row does not say it was skipped:\n%s", hook, out.String())
			}
		}
	}
}
