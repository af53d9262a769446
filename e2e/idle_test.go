package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// idleWindow is how long each long-running view sits in an idle namespace,
// and idleBudget the CPU time it may spend there: next to nothing.
const (
	idleWindow = 10 * time.Second
	idleBudget = 200 * time.Millisecond
)

// TestIdleCost runs every long-running view at once in a network namespace
// where nothing happens and fails if any of them spends more than
// idleBudget of CPU time (user + system, from /proc/PID/stat) in
// idleWindow: a view left running must not spin.
func TestIdleCost(t *testing.T) {
	trRequireRoot(t)
	bins := trBuild(t)
	ns := trNewNetns(t)
	views := [][]string{
		{"-tanc"},
		{"-tanpc"},
		{"-tanpc", "--recent"},
		{"watch"},
		{"watch", "--json"},
		{"timewait", "--count", "0"},
		{"trace"},
		{"life"},
		{"life", "--json", "--failed"},
	}
	type running struct {
		args []string
		cmd  *exec.Cmd
		pid  int
	}
	var rs []*running
	for _, v := range views {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name, bins.ours}, v...)...)
		cmd.Stdout, cmd.Stderr = nil, nil
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &running{args: v, cmd: cmd, pid: cmd.Process.Pid}
		rs = append(rs, r)
		t.Cleanup(func() {
			syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			r.cmd.Wait()
		})
	}
	// Let every view start (load programs, first listing), then measure.
	time.Sleep(3 * time.Second)
	before := map[*running]time.Duration{}
	for _, r := range rs {
		cpu, err := idleCPU(r.pid)
		if err != nil {
			t.Fatalf("bpfnetstat %s: %v (did it exit?)", strings.Join(r.args, " "), err)
		}
		before[r] = cpu
	}
	time.Sleep(idleWindow)
	var report []string
	for _, r := range rs {
		cpu, err := idleCPU(r.pid)
		if err != nil {
			t.Fatalf("bpfnetstat %s: %v (did it exit?)", strings.Join(r.args, " "), err)
		}
		spent := cpu - before[r]
		report = append(report, fmt.Sprintf("%-26s %v", strings.Join(r.args, " "), spent))
		if spent > idleBudget {
			t.Errorf("bpfnetstat %s spent %v of CPU in %v of idling (budget %v)", strings.Join(r.args, " "), spent, idleWindow, idleBudget)
		}
	}
	t.Logf("CPU time in %v idle:\n%s", idleWindow, strings.Join(report, "\n"))
}

// idleCPU is the user + system time of pid (ip netns exec execs the
// command, so that is bpfnetstat itself) and of its waited-for children.
func idleCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, nil
}
