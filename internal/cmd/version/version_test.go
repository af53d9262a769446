package version

import (
	"io"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

func TestVersion(t *testing.T) {
	var out strings.Builder
	cmd := NewVersionCmd(cmdutil.Env{Stdout: &out, Stderr: io.Discard}, nil)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.String() != cmdutil.VersionText() {
		t.Errorf("version printed %q", out.String())
	}
	called := false
	cmd = NewVersionCmd(cmdutil.Env{}, func(*VersionOptions) error { called = true; return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil || called {
		t.Errorf("an argument: err %v, run called %v", err, called)
	}
}
