package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestDoctor: as root on this kernel, doctor reports the hooks that attach
// (the design's preferred ones), the kprobe fallback failing with its fix,
// the LSM accept hook beside the syscall tracepoint that stands in for it,
// the owner iterator working and the PID namespace; inside a PID namespace
// of its own it says the tracer translates PIDs; as nobody it says why the
// tracer cannot load and how to fix it, and exits 1 without a stack trace.
func TestDoctor(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	t.Run("root", func(t *testing.T) {
		out, err := exec.Command(b.ours, "doctor").CombinedOutput()
		if err != nil {
			t.Fatalf("doctor: %v\n%s", err, out)
		}
		for _, want := range []string{
			`(?m)^euid: 0$`,
			`(?m)^BTF: /sys/kernel/btf/vmlinux$`,
			`(?m)^PID namespace: initial$`,
			`(?m)^owner scan \(-p\): iter/task_file works \(\d+ socket descriptors\)`,
			`(?m)^state +tp_btf/inet_sock_set_state +attached$`,
			`(?m)^state +tp_btf/inet_sock_set_state \(nested events\) +attached$`,
			`(?m)^state +kprobe/tcp_set_state +fallback, fails: .*; fix: `,
			`(?m)^accept +tracepoint/syscalls/sys_exit_accept4 +works \(fallback, not used\)$`,
			`(?m)^end +tp_btf/tcp_destroy_sock +attached$`,
			`(?m)^sweep of kept socket states \(ends no program saw\): works; forget_kept loaded$`,
			`(?m)^events: \d+, lost: 0 \(ring buffer full\), 0 \(socket storage\)`,
		} {
			if !regexp.MustCompile(want).Match(out) {
				t.Errorf("doctor output has no line matching %s:\n%s", want, out)
			}
		}
		// The preferred accept hook, the BPF LSM's sock_graft, and the
		// syscall tracepoint: one attached, the other reported beside it.
		// A kernel without BPF trampolines (this one) refuses the LSM
		// program; the row says so and how to fix it.
		lsm := regexp.MustCompile(`(?m)^accept +lsm/sock_graft +(.*)$`).FindSubmatch(out)
		plain := `(?m)^accept +tracepoint/syscalls/sys_exit_accept4 \(plain loads\) +`
		switch {
		case lsm == nil:
			t.Errorf("doctor has no row for the LSM accept hook:\n%s", out)
		case string(lsm[1]) == "attached":
			plain += `works \(fallback, not used\)$`
		case regexp.MustCompile(`^failed: .+; fix: needs the BPF LSM active \(bpf in /sys/kernel/security/lsm`).Match(lsm[1]):
			plain += `attached$`
		default:
			t.Errorf("the LSM accept hook's row says neither attached nor why not: %s", lsm[1])
		}
		if !regexp.MustCompile(plain).Match(out) {
			t.Errorf("doctor output has no line matching %s:\n%s", plain, out)
		}
	})
	t.Run("pid-namespace", func(t *testing.T) {
		out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", b.ours, "doctor").CombinedOutput()
		if err != nil {
			t.Fatalf("doctor in a PID namespace: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`(?m)^PID namespace: pid:\[\d+\], not the initial one: the tracer and the -p iterator translate PIDs into it$`).Match(out) {
			t.Errorf("doctor in a PID namespace does not say so:\n%s", out)
		}
	})
	t.Run("nobody", func(t *testing.T) {
		cmd := exec.Command(b.ours, "doctor")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("doctor as nobody: %v, want exit status 1\n%s", err, out)
		}
		for _, want := range []string{
			`(?m)^owner scan \(-p\): iter/task_file unavailable \(not root\); -p walks /proc/\*/fd, as netstat does$`,
			`(?m)^tracer: cannot load: .*\nfix: eBPF tracing needs root \(CAP_BPF and CAP_PERFMON\): run bpfnetstat as root$`,
		} {
			if !regexp.MustCompile(want).Match(out) {
				t.Errorf("doctor as nobody has no line matching %s:\n%s", want, out)
			}
		}
		if strings.Contains(string(out), "goroutine") {
			t.Errorf("stack trace:\n%s", out)
		}
	})
}
