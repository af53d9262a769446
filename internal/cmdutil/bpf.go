package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// OwnNetNS is the inode of the network namespace bpfnetstat runs in.
func OwnNetNS() uint32 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return 0
	}
	return uint32(st.Ino)
}

// WhyNoBPF says in one line why the tracer cannot run and what would fix it.
func WhyNoBPF(env Env, err error) string {
	var fdl *FDLimitError
	switch {
	case errors.As(err, &fdl):
		return fdl.Error()
	case errors.Is(err, syscall.EMFILE):
		return fmt.Sprintf("too many open files (limit %d): %v", fdLimit(), err)
	case env.Geteuid() != 0:
		return "eBPF tracing needs root (CAP_BPF and CAP_PERFMON): run bpfnetstat as root"
	case errors.Is(err, tracer.ErrNoHook):
		return "no TCP state-change hook could be attached (see 'bpfnetstat doctor')"
	}
	if _, serr := os.Stat("/sys/kernel/btf/vmlinux"); serr != nil {
		return "this kernel has no BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF"
	}
	return fmt.Sprintf("eBPF tracer unavailable: %v", err)
}

// NewMergedSource starts the merged view's source for watch and timewait:
// the tracer when it loads, else /proc snapshots alone, which stderr says
// in one line. With ids, rows carry their owners' identities and ids'
// cgroup filter runs in the kernel.
func NewMergedSource(env Env, stderr func(string), ids *Identities) *merged.Source {
	fs := snapshot.NewFS(env.ProcRoot)
	var name func(*conn.Process)
	if ids != nil {
		name = ids.Name
	}
	live, hooks, err := StartLive(tracer.Config{NetNS: OwnNetNS(), CgroupDir: ids.CgroupDir()}, false, name)
	if err != nil {
		stderr(fmt.Sprintf("bpfnetstat: %s; working from /proc snapshots: TIME_WAIT owners come only from earlier refreshes, and connections between refreshes, ages and byte counts are not known", WhyNoBPF(env, err)))
	}
	for _, l := range DegradedLines(hooks) {
		stderr(l)
	}
	if live != nil && ids != nil {
		ids.Namer.SetRemoved(live.RemovedCgroupPath)
	}
	src := merged.NewSource(fs, OwnerOptions(env, false), live)
	if env.ProcRoot == "/proc" && env.Getenv("BPFNETSTAT_SOURCE") != "proc" {
		src.UseDiag() // TCP from sock_diag, as the classic listing reads it
	}
	if ids != nil {
		src.SetNamer(ids.Namer)
	}
	src.SetRemoteOwners(AgentOwners(env))
	return src
}

// fdLimit is RLIMIT_NOFILE's soft limit, for messages.
func fdLimit() uint64 {
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	return lim.Cur
}
