// Package lowfd keeps bpfnetstat alive under a tiny open-file limit
// (prlimit --nofile=5), where the netstat drop-in must still do what
// net-tools does. The Prometheus client links google.golang.org/protobuf,
// whose internal/detrand package opens the program's own file in its init,
// before main: that open starts the Go runtime's network poller, which
// needs two more descriptors, and with none left the runtime dies
// ("runtime: eventfd failed"). This package's init runs first (Go
// initializes ready packages in import-path order, and this path sorts
// before google.golang.org) and, under such a limit only, holds every free
// descriptor, so that the open fails with EMFILE, which detrand takes in
// its stride; Release gives them back as main starts.
//
// It imports syscall alone and must stay that way: a package is
// initialized once everything it imports is, so any other import (even
// golang.org/x/sys/unix) would let detrand go first.
package lowfd

import "syscall"

// tiny is the open-file limit at or under which init holds the free
// descriptors: far below any limit a normal run has.
const tiny = 16

var held []int

func init() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur > tiny {
		return
	}
	for range tiny {
		fd, err := syscall.Dup(2)
		if err != nil {
			return
		}
		syscall.CloseOnExec(fd)
		held = append(held, fd)
	}
}

// Release closes the descriptors init held; main calls it first.
func Release() {
	for _, fd := range held {
		syscall.Close(fd)
	}
	held = nil
}
