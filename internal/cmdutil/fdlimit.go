package cmdutil

import (
	"encoding/binary"
	"fmt"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Descriptors the eBPF side needs free before it is loaded: the tracer
// holds about 25 (maps, programs, links, the ring buffer's epoll) plus
// the runtime's poller, and more while it probes; the -p iterator a
// handful. Loading with less fails half-way with misleading messages
// (a map create refused with EMFILE reads as "not supported" in the
// library's feature probes), or leaves the /proc reads that follow without
// a descriptor; and the runtime's poller, which the loader starts, ends
// the process with a fatal error when it cannot get its two.
//
// A command that waits on a timer or ticker needs the poller too (the
// runtime's timers wake through it): RunFDs is what one needs to start,
// with the /proc reads of the fallbacks.
const (
	TracerFDs   = 64
	IteratorFDs = 32
	RunFDs      = 6
)

// FDLimitError says that the open-file limit leaves too few descriptors
// for what was about to be loaded. It wraps EMFILE.
type FDLimitError struct {
	What              string
	Limit, Free, Need int
}

func (e *FDLimitError) Error() string {
	return fmt.Sprintf("too many open files (limit %d): %s needs %d free descriptors, found %d; raise the limit (ulimit -n)",
		e.Limit, e.What, e.Need, e.Free)
}

// Unwrap makes errors.Is(err, syscall.EMFILE) true.
func (e *FDLimitError) Unwrap() error { return syscall.EMFILE }

// CheckFDs returns an *FDLimitError when RLIMIT_NOFILE leaves fewer than
// need descriptors free for what.
func CheckFDs(what string, need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= 1<<16 {
		return nil
	}
	if free := int(lim.Cur) - openFDs(); free < need {
		return &FDLimitError{What: what, Limit: int(lim.Cur), Free: free, Need: need}
	}
	return nil
}

// OpenTracer is tracer.Open after CheckFDs.
func OpenTracer(cfg tracer.Config) (*tracer.Tracer, error) {
	if err := CheckFDs("the eBPF tracer", TracerFDs); err != nil {
		return nil, err
	}
	return tracer.Open(cfg)
}

// StartLive is merged.StartLive after CheckFDs.
func StartLive(cfg tracer.Config, ghosts bool, name func(*conn.Process)) (*merged.Live, []tracer.HookStatus, error) {
	if err := CheckFDs("the eBPF tracer", TracerFDs); err != nil {
		return nil, nil, err
	}
	return merged.StartLive(cfg, ghosts, name)
}

// openFDs counts the process's open descriptors from /proc/self/fd,
// read with getdents on a descriptor opened without the runtime's poller
// (and not counted). When that open itself fails, the limit is reached.
func openFDs() int {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		return int(lim.Cur)
	}
	defer unix.Close(dfd)
	n := 0
	buf := make([]byte, 8<<10)
	for {
		got, err := unix.Getdents(dfd, buf)
		if err != nil || got <= 0 {
			break
		}
		for off := 0; off+19 < got; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 {
				break
			}
			if name := buf[off+19]; name >= '0' && name <= '9' {
				n++
			}
			off += reclen
		}
	}
	return n - 1 // the directory's own descriptor
}
