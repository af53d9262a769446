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
	} {
		got, err := cmdtest.Parse(NewDoctorCmd, env, tc.args)
		if !cmdtest.ErrMatches(err, tc.wantErr) || (tc.wantErr == "") != (got != nil) {
			t.Errorf("%q: err %v (run called: %v), want %q", tc.args, err, got != nil, tc.wantErr)
			continue
		}
		if got != nil && got.Stats != tc.want {
			t.Errorf("%q: stats %v, want %v", tc.args, got.Stats, tc.want)
		}
	}
}
