package cli

import (
	"bytes"
	"os"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// readOwners builds the -p owner map. netstat readlinks every
// /proc/PID/fd/N; as root bpfnetstat asks the kernel's task_file iterator
// for the same (PID, socket inode) pairs in one pass instead, which takes
// a system call per descriptor out of -p (about half its time with
// 200,000 sockets). Both give the same map; the differential suite runs
// -p through both. The /proc walk stays when the iterator cannot be used:
// not root, a proc root other than the live /proc, a PID namespace other
// than the initial one (the iterator reports initial-namespace PIDs),
// BPFNETSTAT_SOURCE=proc, or any error loading it.
func readOwners(fs snapshot.FS, env Env) *snapshot.Owners {
	if env.ProcRoot == "/proc" && env.Geteuid() == 0 && env.Getenv("BPFNETSTAT_SOURCE") != "proc" && inInitialPIDNamespace() {
		if o, err := fs.OwnersFromFDs(tracer.ScanSocketFDs); err == nil {
			return o
		}
	}
	return fs.ReadOwners()
}

// inInitialPIDNamespace says whether this process's PIDs are those of the
// initial PID namespace and /proc is that namespace's: /proc/self/status
// lists one NSpid, and /proc/self names our own PID.
func inInitialPIDNamespace() bool {
	self, err := os.Readlink("/proc/self")
	if err != nil || self != strconv.Itoa(os.Getpid()) {
		return false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			return len(bytes.Fields(rest)) == 1
		}
	}
	return false
}
