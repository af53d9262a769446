package timewait

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil/cmdtest"
)

func TestFlags(t *testing.T) {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard}
	for _, tc := range []struct {
		args    string
		want    TimewaitOptions
		wantErr string
	}{
		{args: "", want: TimewaitOptions{Interval: 2 * time.Second, Count: 1, Top: 10}},
		{args: "--json --interval 10s --count 0 --top 3", want: TimewaitOptions{JSON: true, Interval: 10 * time.Second, Count: 0, Top: 3}},
		{args: "--cgroup /system.slice --container ab12", want: TimewaitOptions{Interval: 2 * time.Second, Count: 1, Top: 10, Identity: cmdutil.IdentityFlags{Cgroup: "/system.slice", Container: "ab12"}}},
		{args: "--identity", wantErr: "unknown flag"},
		{args: "--count x", wantErr: "invalid argument"},
		{args: "now", wantErr: "unknown command"},
		{args: "--count -3", wantErr: "--count -3: want 0 (no limit) or a positive whole number"},
		{args: "--top 0", wantErr: "--top 0: want a positive whole number"},
		{args: "--interval 0", wantErr: "--interval 0s: want a duration of at least 10ms"},
	} {
		got, err := cmdtest.Parse(NewTimewaitCmd, env, tc.args)
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
			t.Errorf("%q: options %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}
