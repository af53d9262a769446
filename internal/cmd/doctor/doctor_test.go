package doctor

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
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
		var got *DoctorOptions
		cmd := NewDoctorCmd(env, func(o *DoctorOptions) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tc.args))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%q: err %v (run called: %v), want %q", tc.args, err, got != nil, tc.wantErr)
			}
			continue
		}
		if err != nil || got == nil || got.Stats != tc.want {
			t.Errorf("%q: err %v, options %+v, want stats %v", tc.args, err, got, tc.want)
		}
	}
}
