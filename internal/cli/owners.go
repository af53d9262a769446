package cli

import (
	"bytes"
	"os"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// iteratorMinFiles is where the task_file iterator starts to pay: loading
// it costs about 15 ms (kernel BTF, the verifier), the /proc walk about
// 2 us per open file (a readlink each), so below some 8,000 open files on
// the machine the walk is quicker.
const iteratorMinFiles = 8192

// readOwners builds the -p owner map. netstat readlinks every
// /proc/PID/fd/N; as root, with many files open, bpfnetstat asks the
// kernel's task_file iterator for the same (PID, socket inode) pairs in one
// pass instead (at 200,000 sockets: 80 ms instead of 450). Both give the
// same map; the differential suite runs -p through both. The /proc walk
// stays when the iterator cannot be used or would not help: invoked as
// netstat (the drop-in loads no BPF), not root, a proc root other than
// the live /proc, a /proc of another PID namespace than ours (its numbers
// are not the ones the iterator gives), fewer open files than
// iteratorMinFiles, or any error loading it. BPFNETSTAT_OWNERS=proc (or
// BPFNETSTAT_SOURCE=proc, everything from /proc) always walks;
// BPFNETSTAT_OWNERS=iter uses the iterator whenever it can, under either
// name.
func readOwners(fs snapshot.FS, env Env, asNetstat bool) *snapshot.Owners {
	if useOwnerIterator(env, asNetstat) {
		if o, err := fs.OwnersFromFDs(tracer.ScanSocketFDs); err == nil {
			return o
		}
	}
	return fs.ReadOwners()
}

func useOwnerIterator(env Env, asNetstat bool) bool {
	choice := env.Getenv("BPFNETSTAT_OWNERS")
	switch {
	case choice == "proc" || env.Getenv("BPFNETSTAT_SOURCE") == "proc":
		return false
	case asNetstat && choice != "iter":
		return false
	case env.ProcRoot != "/proc" || env.Geteuid() != 0 || !procIsOurPIDNamespace():
		return false
	}
	return choice == "iter" || openFiles() >= iteratorMinFiles
}

// procIsOurPIDNamespace says whether /proc numbers processes as our PID
// namespace does: /proc/self is then our own PID. (A /proc of an ancestor
// namespace, such as the host's mounted in a container, shows us under
// another number.)
func procIsOurPIDNamespace() bool {
	self, err := os.Readlink("/proc/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// openFiles is the number of file handles allocated on the machine, the
// first field of /proc/sys/fs/file-nr; unknown counts as many.
func openFiles() int {
	b, err := os.ReadFile("/proc/sys/fs/file-nr")
	if err != nil {
		return iteratorMinFiles
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return iteratorMinFiles
	}
	n, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return iteratorMinFiles
	}
	return n
}
