package cmdutil

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenFDs: the count follows descriptors opened and closed, and
// CheckFDs names the limit when too few are left.
func TestOpenFDs(t *testing.T) {
	before := openFDs()
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if got := openFDs(); got != before+1 {
		t.Errorf("openFDs = %d after one more open, want %d", got, before+1)
	}
	f.Close()
	if got := openFDs(); got != before {
		t.Errorf("openFDs = %d after the close, want %d", got, before)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= 1<<16 {
		t.Skipf("limit %d: CheckFDs does not count above 65536", lim.Cur)
	}
	err = CheckFDs("the test", int(lim.Cur)+1)
	var fdl *FDLimitError
	if !errors.As(err, &fdl) || !errors.Is(err, syscall.EMFILE) || fdl.Limit != int(lim.Cur) || fdl.Free != int(lim.Cur)-before {
		t.Errorf("CheckFDs(limit+1) = %v, want the limit %d and %d free", err, lim.Cur, int(lim.Cur)-before)
	}
	if err := CheckFDs("the test", 1); err != nil {
		t.Errorf("CheckFDs(1) = %v", err)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	var b strings.Builder
	if code := ExitCode(Usagef("--port %d: want %s", 70000, WantPorts), &b); code != 2 || b.String() != "bpfnetstat: --port 70000: want "+WantPorts+"\n" {
		t.Errorf("usage error: exit %d, %q", code, b.String())
	}
	b.Reset()
	if code := ExitCode(errors.New("reading\nevents"), &b); code != 1 || b.String() != "bpfnetstat: reading\\nevents\n" {
		t.Errorf("run error: exit %d, %q; want 1 and one line", code, b.String())
	}
}
