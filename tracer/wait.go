package tracer

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ringWaiter waits for the ring buffer's wake-ups in Go's network poller,
// the way a socket read waits, instead of in an epoll_wait system call of
// its own. A goroutine blocked in a system call holds its thread and its
// scheduler slot: the runtime's monitor thread then never sleeps deeply,
// wakes up to 50,000 times a second to check on it and takes the slot
// back every 10 ms; under churn those wake-ups and thread switches cost as
// much as reading the events. In the poller, the wait costs nothing.
//
// The ring buffer's map fd is pollable (readable when a program submitted
// with a wake-up); a non-blocking duplicate of it goes to the poller. The
// records are still read with cilium/ebpf's reader, whose own waits are
// made never to block.
type ringWaiter struct {
	f       *os.File
	rc      syscall.RawConn
	flushed atomic.Bool
	closed  atomic.Bool
}

// errNotPollable: the poller refused the ring buffer's fd.
var errNotPollable = errors.New("the ring buffer's fd cannot be polled")

func newRingWaiter(m *ebpf.Map) (*ringWaiter, error) {
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "ringbuf")
	// A file the poller did not take has no deadlines.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, errNotPollable
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ringWaiter{f: f, rc: rc}, nil
}

// wait returns at the ring buffer's next wake-up (or at once if one came
// since the last wait), at deadline (nil error: a poll), on Flush, or with
// os.ErrClosed after Close.
func (w *ringWaiter) wait(deadline time.Time) error {
	w.f.SetReadDeadline(deadline)
	if w.flushed.Swap(false) {
		return nil
	}
	woken := false
	err := w.rc.Read(func(uintptr) bool {
		// The first call is before any wait: go and wait; the next one
		// is after a wake-up.
		if woken || w.flushed.Load() {
			return true
		}
		woken = true
		return false
	})
	w.flushed.Store(false)
	switch {
	case w.closed.Load():
		return os.ErrClosed
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	}
	return err
}

// flush makes a wait under way, or the next one, return at once. Setting
// the flag before the deadline, and wait setting its deadline before it
// reads the flag, means no flush is ever missed.
func (w *ringWaiter) flush() {
	w.flushed.Store(true)
	w.f.SetReadDeadline(time.Unix(1, 0))
}

func (w *ringWaiter) Close() error {
	w.closed.Store(true)
	return w.f.Close()
}
