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
	req      chan chan snapReply // nil: read in the caller's namespace
}

type snapReply struct {
	rows   []snapshot.Socket
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
	s := &Snapshotter{req: make(chan chan snapReply)}
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
			rows, err := readRows(fs)
			lo, hi := readRange("/proc/sys/net/ipv4/ip_local_port_range")
			r <- snapReply{rows: rows, lo: lo, hi: hi, err: err}
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("joining network namespace %s: %w", path, err)
	}
	return s, nil
}

// Read returns the TCP sockets and the ephemeral port range.
func (s *Snapshotter) Read() ([]snapshot.Socket, int, int, error) {
	if s.req == nil {
		fs := snapshot.NewFS(s.procRoot)
		rows, err := readRows(fs)
		lo, hi := merged.EphemeralRange(fs)
		return rows, lo, hi, err
	}
	r := make(chan snapReply, 1)
	s.req <- r
	x := <-r
	return x.rows, x.lo, x.hi, x.err
}

func readRows(fs snapshot.FS) ([]snapshot.Socket, error) {
	var rows []snapshot.Socket
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		err := fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s != nil {
				rows = append(rows, *s)
			}
		})
		if err != nil && !os.IsNotExist(err) {
			return rows, err
		}
	}
	return rows, nil
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
