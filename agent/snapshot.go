package agent

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// Snapshotter reads the TCP tables of one network namespace: the agent's
// own, or another one's through a thread that joined it (setns), so that
// an agent in the host namespace can watch a namespace of its choice.
type Snapshotter struct {
	procRoot string
	req      chan snapRequest // nil: read in the caller's namespace
}

type snapRequest struct {
	fn    func(lo, hi int, s *snapshot.Socket)
	reply chan snapReply
}

type snapReply struct {
	lo, hi int
	err    error
}

// NewSnapshotter reads under procRoot in the caller's namespace.
func NewSnapshotter(procRoot string) *Snapshotter { return &Snapshotter{procRoot: procRoot} }

// NewNetNSSnapshotter reads the namespace at path (/run/netns/NAME,
// /proc/PID/ns/net) from a thread that joined it and never leaves it.
func NewNetNSSnapshotter(path string) (*Snapshotter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &Snapshotter{req: make(chan snapRequest)}
	started := make(chan error)
	go func() {
		// The thread stays in the namespace; it dies with the goroutine,
		// which never unlocks it.
		runtime.LockOSThread()
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		started <- err
		if err != nil {
			return
		}
		// /proc/thread-self/net is this thread's namespace; the net
		// sysctls are the current task's.
		fs := snapshot.NewFS("/proc/thread-self")
		for r := range s.req {
			lo, hi := readRange("/proc/sys/net/ipv4/ip_local_port_range")
			err := eachTCP(fs, func(s *snapshot.Socket) { r.fn(lo, hi, s) })
			r.reply <- snapReply{lo: lo, hi: hi, err: err}
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("joining network namespace %s: %w", path, err)
	}
	return s, nil
}

// Each calls fn with the namespace's ephemeral port range and each of its
// TCP sockets (the *Socket is reused between calls; fn may run on another
// goroutine), and returns the range.
func (s *Snapshotter) Each(fn func(lo, hi int, s *snapshot.Socket)) (lo, hi int, err error) {
	if s.req == nil {
		fs := snapshot.NewFS(s.procRoot)
		lo, hi := merged.EphemeralRange(fs)
		err := eachTCP(fs, func(s *snapshot.Socket) { fn(lo, hi, s) })
		return lo, hi, err
	}
	r := snapRequest{fn: fn, reply: make(chan snapReply, 1)}
	s.req <- r
	x := <-r.reply
	return x.lo, x.hi, x.err
}

// eachTCP streams the TCP sockets from sock_diag, which costs a fraction
// of /proc/net/tcp's text with hundreds of thousands of TIME_WAIT sockets;
// from /proc when the kernel has no inet_diag. fs is the /proc of the
// namespace the calling thread is in.
func eachTCP(fs snapshot.FS, fn func(*snapshot.Socket)) error {
	for _, f := range []snapshot.Family{snapshot.FamilyInet, snapshot.FamilyInet6} {
		if err := snapshot.EachTCPDiag(f, snapshot.DiagOptions{}, fn); err != nil {
			return eachTCPProc(fs, fn)
		}
	}
	return nil
}

func eachTCPProc(fs snapshot.FS, fn func(*snapshot.Socket)) error {
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		err := fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s != nil {
				fn(s)
			}
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func readRange(path string) (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		l, e1 := strconv.Atoi(f[0])
		h, e2 := strconv.Atoi(f[1])
		if e1 == nil && e2 == nil && l <= h {
			lo, hi = l, h
		}
	}
	return
}
