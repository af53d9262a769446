package cli

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// closeLeakedCgroupFD closes the descriptor the Go runtime leaks at start
// on a cgroup v1 machine when the open-file limit lets it open
// cpu.cfs_quota_us but not cpu.cfs_period_us (internal/runtime/cgroup
// OpenCPU returns an error without closing the first). With one
// descriptor left, that leak is the one netstat would list sockets with.
//
// Only a close-on-exec descriptor can be the runtime's (an inherited one
// survived an exec, so it has no FD_CLOEXEC), and only a quota file
// without its period file is the leak (the runtime, when it keeps them,
// keeps both).
func closeLeakedCgroupFD() {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur > 64 {
		return // the leak only happens when the limit is a handful
	}
	quota := -1
	for fd := 3; fd < int(lim.Cur); fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(target, "/cpu.cfs_period_us"):
			return
		case strings.HasSuffix(target, "/cpu.cfs_quota_us"):
			quota = fd
		}
	}
	if quota >= 0 {
		unix.Close(quota)
	}
}

// sleep is the classic views' pause between -c rounds: nanosleep itself,
// not time.Sleep, whose timer would start the runtime's poller and so
// need two descriptors that netstat -c under a tight limit does not.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for {
		var rem unix.Timespec
		if err := unix.Nanosleep(&ts, &rem); err != unix.EINTR {
			return
		}
		ts = rem
	}
}
