package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf/link"
)

// socketFDSize is the size of one record the iterator writes.
const socketFDSize = int(unsafe.Sizeof(ownersSocketFd{}))

// ScanSocketFDs lists every socket descriptor of every process with one
// pass of the kernel's task_file iterator (bpf/owners.bpf.c): what netstat
// -p learns from a readlink of each /proc/PID/fd/N, without a system call
// per descriptor. fn is called for one process's descriptors after
// another, in fd order within a process. PIDs are those of bpfnetstat's
// PID namespace; processes it cannot see are left out. The kernel visits
// processes in ascending initial-namespace PID order, which inside a
// container may differ from the namespace's own order.
//
// It needs the rights to load BPF programs (root); the error says why it
// could not run, and the caller then scans /proc instead.
func ScanSocketFDs(fn func(pid int32, inode uint64)) error {
	raiseMemlock()
	spec, err := loadOwners()
	if err != nil {
		return fmt.Errorf("loading the task_file iterator: %w", err)
	}
	ino, initial, err := OwnPIDNamespace()
	if err != nil {
		return fmt.Errorf("finding bpfnetstat's PID namespace: %w", err)
	}
	if !initial {
		if err := spec.Variables["pidns_ino"].Set(ino); err != nil {
			return fmt.Errorf("setting pidns_ino: %w", err)
		}
	}
	var objs ownersObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return fmt.Errorf("loading the task_file iterator: %w", err)
	}
	defer objs.Close()
	it, err := link.AttachIter(link.IterOptions{Program: objs.SocketOwners})
	if err != nil {
		return fmt.Errorf("attaching the task_file iterator: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("opening the task_file iterator: %w", err)
	}
	defer rd.Close()
	return readSocketFDs(rd, fn)
}

// readSocketFDs decodes the iterator's records. A read may end inside a
// record; the rest arrives with the next one.
func readSocketFDs(rd io.Reader, fn func(pid int32, inode uint64)) error {
	buf := make([]byte, 64<<10)
	have := 0
	for {
		n, err := rd.Read(buf[have:])
		have += n
		whole := have - have%socketFDSize
		for off := 0; off < whole; off += socketFDSize {
			rec := buf[off : off+socketFDSize]
			fn(int32(binary.NativeEndian.Uint32(rec[8:])), binary.NativeEndian.Uint64(rec))
		}
		have = copy(buf, buf[whole:have])
		if errors.Is(err, io.EOF) || (n == 0 && err == nil) {
			if have != 0 {
				return fmt.Errorf("task_file iterator: %d bytes of a truncated record", have)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the task_file iterator: %w", err)
		}
	}
}
