// Package owners answers "which process holds this socket inode", the
// question behind netstat -p, in one call (Read) over two scans: netstat's
// walk of /proc/*/fd (WalkProc) and one pass of the kernel's task_file
// iterator (Iterate, whose BPF objects the tracer package loads). Both give
// the same Map.
//
// It reads files and loads the iterator but prints nothing and reads no
// environment variable: the command layer turns those into Options. It
// must never import output, merged or the command layer.
package owners

import (
	"bytes"
	"os"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// IteratorMinFiles is where the task_file iterator starts to pay: loading
// it costs about 15 ms (kernel BTF, the verifier), the /proc walk about
// 2 us per open file (a readlink each), so below some 8,000 open files on
// the machine the walk is quicker.
const IteratorMinFiles = 8192

// Method says which scan Read may use.
type Method uint8

// Methods.
const (
	// Auto uses the iterator where it can and pays: as root, on the live
	// /proc of bpfnetstat's PID namespace, with IteratorMinFiles or more
	// files open on the machine.
	Auto Method = iota
	// ProcWalk always walks /proc/*/fd.
	ProcWalk
	// Iterator uses the iterator wherever it can, however few files are open.
	Iterator
)

// Options are what Read needs to know of its caller.
type Options struct {
	Method Method
	// Privileged says the caller may load BPF programs (it runs as root).
	Privileged bool
}

// Read builds the owner map of the sockets under a proc root. netstat
// readlinks every /proc/PID/fd/N; as root, with many files open, the
// kernel's task_file iterator gives the same (PID, socket inode) pairs in
// one pass (at 200,000 sockets: 80 ms instead of 450). The walk stays when
// the iterator cannot be used or would not help (see UsesIterator), and
// whenever the iterator fails to load.
func Read(fs snapshot.FS, opt Options) *Map {
	if UsesIterator(fs, opt) {
		if m, err := Iterate(fs); err == nil {
			return m
		}
	}
	return WalkProc(fs)
}

// UsesIterator says whether Read tries the iterator: never with ProcWalk,
// without privileges, for a proc root other than the live /proc, or for a
// /proc of another PID namespace than ours (its numbers are not the ones
// the iterator gives).
func UsesIterator(fs snapshot.FS, opt Options) bool {
	switch {
	case opt.Method == ProcWalk:
		return false
	case fs.Path() != "/proc" || !opt.Privileged || !ProcIsOurPIDNamespace():
		return false
	}
	return opt.Method == Iterator || OpenFiles() >= IteratorMinFiles
}

// Iterate builds the map from one pass of the task_file iterator; program
// names still come from ROOT/PID/cmdline. The error says why the iterator
// could not run (it needs root).
func Iterate(fs snapshot.FS) (*Map, error) {
	return FromScan(fs, tracer.ScanSocketFDs)
}

// ProcIsOurPIDNamespace says whether /proc numbers processes as our PID
// namespace does: /proc/self is then our own PID. (A /proc of an ancestor
// namespace, such as the host's mounted in a container, shows us under
// another number.)
func ProcIsOurPIDNamespace() bool {
	self, err := os.Readlink("/proc/self")
	return err == nil && self == strconv.Itoa(os.Getpid())
}

// OpenFiles is the number of file handles allocated on the machine, the
// first field of /proc/sys/fs/file-nr; unknown counts as many.
func OpenFiles() int {
	b, err := snapshot.ReadFile("/proc/sys/fs/file-nr")
	if err != nil {
		return IteratorMinFiles
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return IteratorMinFiles
	}
	n, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return IteratorMinFiles
	}
	return n
}
