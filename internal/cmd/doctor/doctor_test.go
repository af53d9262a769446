package doctor

import (
	"io"
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
