package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// NS is one network namespace of a snapshot.
type NS struct {
	// Ino is the namespace's inode, as the tracer reports it
	// (conn.Conn.NetNS).
	Ino uint32
	// Lo and Hi are its net.ipv4.ip_local_port_range.
	Lo, Hi int
	// Main marks the namespace whose port range the range gauge reports:
	// the agent's own, or the one --netns names.
	Main bool
	// NoRange marks a namespace the agent could not join: its port range
	// cannot be read (the sysctl answers for the reader's namespace), so
	// none of its ports counts as ephemeral; its TIME_WAIT sockets do.
	NoRange bool
}

// SnapStats counts the namespaces of one snapshot by what became of them;
// each is in one count.
type SnapStats struct {
	// Walked namespaces were dumped.
	Walked int
	// Skipped ones held no TCP socket (their sockstat said so): no dump.
	Skipped int
	// Failed ones were not read in full: the agent could not join them
	// (no CAP_SYS_ADMIN; their TIME_WAIT sockets are still read from
	// /proc/PID/net of a process inside, when there is one, but not
	// their ephemeral ports), or their dump failed.
	Failed int
}

// Snapshotter reads the TCP tables of the network namespaces the agent
// watches: every one of the host (NewHostSnapshotter), or one that a
// thread joined (NewNetNSSnapshotter).
type Snapshotter struct {
	req     chan snapRequest // one namespace, read by a thread inside it
	mainIno uint32
	host    *hostNS // every namespace
	stats   SnapStats
	// full lists the namespaces whose whole table, with cookies, the last
	// snapshot read (sock_diag), or that held no TCP socket.
	full   []uint32
	closed bool
}

type snapRequest struct {
	visit func(NS) func(*snapshot.Socket)
	reply chan snapReply
}

type snapReply struct {
	err     error
	skipped bool
	diag    bool // the dump came from sock_diag, with cookies
}

// NewNetNSSnapshotter reads the namespace at path (/run/netns/NAME,
// /proc/PID/ns/net) from a thread that joined it and never leaves it.
func NewNetNSSnapshotter(path string) (*Snapshotter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	s := &Snapshotter{req: make(chan snapRequest), mainIno: uint32(st.Ino)}
	started := make(chan error)
	goThread(func() {
		// The thread stays in the namespace; it dies with fn.
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		started <- err
		if err != nil {
			return
		}
		// /proc/thread-self/net is this thread's namespace; the net
		// sysctls are the current task's.
		fs := snapshot.NewFS("/proc/thread-self")
		var st sockstat
		st.open(fs)
		defer st.close()
		for r := range s.req {
			lo, hi := readRange("/proc/sys/net/ipv4/ip_local_port_range")
			fn := r.visit(NS{Ino: s.mainIno, Lo: lo, Hi: hi, Main: true})
			if st.empty() {
				r.reply <- snapReply{skipped: true}
				continue
			}
			d, _ := snapshot.OpenDiag() // nil: no sock_diag, /proc it is
			r.reply <- snapReply{err: eachTCP(d, fs, fn), diag: d != nil}
			if d != nil {
				d.Close()
			}
		}
	})
	if err := <-started; err != nil {
		return nil, fmt.Errorf("joining network namespace %s: %w", path, err)
	}
	return s, nil
}

// goThread runs fn on a goroutine locked to an OS thread that ends with
// fn, so that fn may join another namespace (setns) and no Go code runs
// there after it. Never on the process's main thread, which Go does not
// end when its goroutine exits locked but parks for good: it would stay
// in the namespace it joined, keep it alive, and /proc/self/ns/net (the
// main thread's) would name it.
func goThread(fn func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread while fn runs on another.
			done := make(chan struct{})
			goThread(func() { defer close(done); fn() })
			<-done
			runtime.UnlockOSThread()
			return
		}
		fn() // returns locked: the thread ends
	}()
}

// NewHostSnapshotter reads every network namespace of the host: those of
// the processes under procRoot (/proc/*/ns/net) and those bound under
// /run/netns, found again at each snapshot.
func NewHostSnapshotter(procRoot string) *Snapshotter {
	if procRoot == "" {
		procRoot = "/proc"
	}
	return &Snapshotter{host: &hostNS{procRoot: procRoot, netnsDir: "/run/netns", ns: map[nsKey]*nsHandle{}, reported: map[nsKey]bool{}}}
}

// Each calls visit with each namespace, then the function visit returns
// with each TCP socket of that namespace (the *Socket is reused between
// calls; the functions may run on another goroutine). A namespace's
// sockets come together, after its visit; a namespace without TCP
// sockets is visited and not dumped. The error names what could not be
// read; with every namespace, only what went wrong for the first time.
// Stats then counts the namespaces walked, skipped and failed.
func (s *Snapshotter) Each(visit func(NS) func(*snapshot.Socket)) error {
	if s.closed {
		return errors.New("snapshotter closed")
	}
	s.full = s.full[:0]
	if s.host != nil {
		var err error
		s.stats, err = s.host.each(visit, &s.full)
		return err
	}
	r := snapRequest{visit: visit, reply: make(chan snapReply, 1)}
	s.req <- r
	rep := <-r.reply
	switch {
	case rep.err != nil:
		s.stats = SnapStats{Failed: 1}
	case rep.skipped:
		s.stats = SnapStats{Skipped: 1}
	default:
		s.stats = SnapStats{Walked: 1}
	}
	if rep.err == nil && (rep.skipped || rep.diag) {
		s.full = append(s.full, s.mainIno)
	}
	return rep.err
}

// Full lists the namespaces of the last snapshot whose whole table it read
// with the sockets' cookies (sock_diag), or that held no TCP socket: those
// the tracer's sweep may judge (tracer.SweepRound).
func (s *Snapshotter) Full() []uint32 { return s.full }

// Stats counts the namespaces of the last snapshot by what became of
// them.
func (s *Snapshotter) Stats() SnapStats { return s.stats }

// Namespaces is how many namespaces the last snapshot read.
func (s *Snapshotter) Namespaces() int {
	if s.host != nil {
		return len(s.host.ns)
	}
	return 1
}

// Close releases the files held in other namespaces (which keep those
// namespaces alive) and ends the thread that --netns keeps in its
// namespace. It must not run with Each; a second Close does nothing.
func (s *Snapshotter) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.host != nil {
		for k, h := range s.host.ns {
			h.close()
			delete(s.host.ns, k)
		}
		return
	}
	close(s.req) // the thread's loop ends, and the thread with it
}

// nsKey names a network namespace for as long as it lives: the nsfs
// device and inode.
type nsKey struct{ dev, ino uint64 }

// nsHandle is what the agent holds for one namespace: a sock_diag socket,
// the namespace's ip_local_port_range file and its sockstat files, all
// opened by a thread inside it and read from any thread since (the
// socket, the sysctl and the proc files answer for the namespace they
// were opened in, whatever the reader's).
type nsHandle struct {
	ino      uint32
	diag     *snapshot.Diag // nil: the tables of a process inside, under /proc/PID/net
	ports    *os.File       // nil: the main namespace's range, or none (unjoined)
	sockstat sockstat
	procFS   snapshot.FS // /proc/PID of a process inside this scan ("": none)
	seen     uint64      // the last scan that found it
	main     bool
	unjoined bool // joining was refused: no range, sockets from procFS
	broken   bool // a dump through diag failed: open the namespace again
	last     nsResult
}

// nsResult is what became of a namespace in the last snapshot.
type nsResult uint8

const (
	nsWalked nsResult = iota
	nsSkipped
	nsFailed
)

func (h *nsHandle) close() {
	if h.diag != nil {
		h.diag.Close()
	}
	if h.ports != nil {
		h.ports.Close()
	}
	h.sockstat.close()
}

// sockstat holds a namespace's net/sockstat and net/sockstat6 open. Their
// TCP "inuse" (hashed sockets: listeners and connections, IPv4 and IPv6
// apart) and "tw" (TIME_WAIT, both families) are the namespace's own
// (sock_prot_inuse_get and tcp_death_row are per namespace), and a kept
// file answers for the namespace it was opened in (the seq_file holds
// it), so one pread tells whether a dump would return anything, without
// the dump's walk of the kernel's hash, which is shared by every
// namespace and costs as much for an empty one as for a full one.
type sockstat struct {
	v4, v6 *os.File // v4 nil: unknown, never skip; v6 nil: no IPv6
}

// open opens fs's net/sockstat{,6}; where it cannot, the namespace is
// never skipped.
func (s *sockstat) open(fs snapshot.FS) {
	v4, err := os.Open(fs.Path("net", "sockstat"))
	if err != nil {
		return
	}
	v6, err := os.Open(fs.Path("net", "sockstat6"))
	if err != nil && !errors.Is(err, os.ErrNotExist) { // missing: a kernel without IPv6
		v4.Close()
		return
	}
	s.v4, s.v6 = v4, v6
}

func (s *sockstat) close() {
	if s.v4 != nil {
		s.v4.Close()
	}
	if s.v6 != nil {
		s.v6.Close()
	}
	s.v4, s.v6 = nil, nil
}

// empty reports whether the namespace holds no TCP socket a dump would
// return: no hashed socket of either family, no TIME_WAIT. A socket
// made between this read and a dump would be missed by the dump all the
// same.
func (s *sockstat) empty() bool {
	if s.v4 == nil {
		return false
	}
	inuse, tw, ok := preadSockstat(s.v4, "TCP:")
	if !ok || inuse != 0 || tw != 0 {
		return false
	}
	if s.v6 == nil {
		return true
	}
	inuse, _, ok = preadSockstat(s.v6, "TCP6:")
	return ok && inuse == 0
}

// preadSockstat reads a sockstat file held open (one pread from offset
// 0, which starts the seq_file over) and returns the inuse and tw
// counts of its line for proto.
func preadSockstat(f *os.File, proto string) (inuse, tw int, ok bool) {
	var buf [1024]byte
	n, err := unix.Pread(int(f.Fd()), buf[:], 0)
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	return parseSockstat(buf[:n], proto)
}

// parseSockstat finds the line "TCP: inuse N orphan N tw N alloc N mem N"
// (or "TCP6: inuse N") of a sockstat file and returns inuse and tw (0
// when the line has none).
func parseSockstat(b []byte, proto string) (inuse, tw int, ok bool) {
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != proto {
			continue
		}
		if len(f)%2 != 1 {
			return 0, 0, false
		}
		seenInuse := false
		for i := 1; i+1 < len(f); i += 2 {
			v, err := strconv.Atoi(f[i+1])
			if err != nil || v < 0 {
				return 0, 0, false
			}
			switch f[i] {
			case "inuse":
				inuse, seenInuse = v, true
			case "tw":
				tw = v
			}
		}
		if !seenInuse {
			return 0, 0, false
		}
		return inuse, tw, true
	}
	return 0, 0, false
}

// hostNS finds the host's network namespaces and reads each.
type hostNS struct {
	procRoot string
	netnsDir string
	ns       map[nsKey]*nsHandle
	scan     uint64
	// reported holds the namespaces whose failure was reported, so that
	// a lasting one (no CAP_SYS_ADMIN to join) is said once.
	reported map[nsKey]bool
	order    []*nsHandle
}

// newNS is a namespace found by a scan and not held yet.
type newNS struct {
	key  nsKey
	path string // /proc/PID/ns/net or /run/netns/NAME
	proc snapshot.FS
	h    *nsHandle
	err  error
}

// rescan walks /proc/*/ns/net and /run/netns, forgets the namespaces that
// are gone and opens the new ones.
func (n *hostNS) rescan() error {
	n.scan++
	var errs []error
	var fresh []*newNS
	found := map[nsKey]*newNS{}
	for k, h := range n.ns {
		if h.broken {
			h.close()
			delete(n.ns, k)
		}
	}
	add := func(path string, proc snapshot.FS) {
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil {
			return // gone meanwhile, or not a namespace
		}
		k := nsKey{st.Dev, st.Ino}
		if h := n.ns[k]; h != nil {
			if h.seen != n.scan {
				h.seen, h.procFS = n.scan, proc
			} else if h.procFS == (snapshot.FS{}) {
				h.procFS = proc
			}
			return
		}
		if found[k] == nil {
			f := &newNS{key: k, path: path, proc: proc}
			found[k] = f
			fresh = append(fresh, f)
		} else if found[k].proc == (snapshot.FS{}) {
			found[k].proc = proc
		}
	}
	// The agent's own namespace is the main one; its tables are
	// /proc/thread-self/net of any thread of the agent (none stays in
	// another namespace).
	self := n.procRoot + "/thread-self"
	var selfKey nsKey
	var st unix.Stat_t
	if err := unix.Stat(self+"/ns/net", &st); err == nil {
		selfKey = nsKey{st.Dev, st.Ino}
	}
	add(self+"/ns/net", snapshot.NewFS(self))
	if d, err := os.Open(n.procRoot); err != nil {
		errs = append(errs, err)
	} else {
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			if name[0] < '0' || name[0] > '9' {
				continue
			}
			dir := n.procRoot + "/" + name
			add(dir+"/ns/net", snapshot.NewFS(dir))
		}
	}
	if names, err := os.ReadDir(n.netnsDir); err == nil {
		for _, e := range names {
			add(n.netnsDir+"/"+e.Name(), snapshot.FS{})
		}
	}
	for k, h := range n.ns {
		if h.seen != n.scan {
			h.close()
			delete(n.ns, k)
		}
	}
	for k := range n.reported {
		if _, ok := n.ns[k]; !ok && found[k] == nil {
			delete(n.reported, k)
		}
	}
	if len(fresh) > 0 {
		n.open(fresh, selfKey)
		for _, f := range fresh {
			if f.err != nil && !n.reported[f.key] {
				n.reported[f.key] = true
				errs = append(errs, f.err)
			}
			if f.h != nil {
				n.ns[f.key] = f.h
			}
		}
	}
	n.order = n.order[:0]
	for _, h := range n.ns {
		n.order = append(n.order, h)
	}
	sort.Slice(n.order, func(i, j int) bool {
		a, b := n.order[i], n.order[j]
		return a.main && !b.main || a.main == b.main && a.ino < b.ino
	})
	return errors.Join(errs...)
}

// open makes the handles of new namespaces: the agent's own from this
// thread, the others from one thread that joins each in turn (setns) and
// ends with its goroutine, never to run Go code in a namespace not its
// own.
func (n *hostNS) open(fresh []*newNS, self nsKey) {
	var others []*newNS
	var fds []int
	for _, f := range fresh {
		h := &nsHandle{ino: uint32(f.key.ino), procFS: f.proc, seen: n.scan}
		if f.key == self {
			h.main = true
			h.diag, _ = snapshot.OpenDiag() // nil: no sock_diag, /proc it is
			h.ports, _ = os.Open(snapshot.NewFS(n.procRoot).Path("sys", "net", "ipv4", "ip_local_port_range"))
			h.sockstat.open(f.proc) // /proc/thread-self: this thread's namespace
			f.h = h
			continue
		}
		fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		var st unix.Stat_t
		if err == nil {
			if err = unix.Fstat(fd, &st); err == nil && (nsKey{st.Dev, st.Ino}) != f.key {
				err = errors.New("replaced since the scan")
			}
			if err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			// A process that ended since the scan is no news: the next
			// scan finds the namespace again if it still stands.
			if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
				f.err = fmt.Errorf("network namespace %d (%s): %w", f.key.ino, f.path, err)
			}
			continue
		}
		f.h = h
		others = append(others, f)
		fds = append(fds, fd)
	}
	if len(others) == 0 {
		return
	}
	done := make(chan struct{})
	goThread(func() {
		defer close(done)
		// The thread, left in the last namespace it joined, ends with fn.
		for i, f := range others {
			err := unix.Setns(fds[i], unix.CLONE_NEWNET)
			unix.Close(fds[i])
			if err != nil {
				f.err = fmt.Errorf("network namespace %d (%s): joining: %w", f.key.ino, f.path, err)
				continue
			}
			f.h.diag, _ = snapshot.OpenDiag() // nil: no sock_diag, /proc/PID/net it is
			// /proc/sys/net is the current thread's namespace's, and so
			// is /proc/thread-self/net.
			f.h.ports, _ = os.Open("/proc/sys/net/ipv4/ip_local_port_range")
			f.h.sockstat.open(snapshot.NewFS("/proc/thread-self"))
		}
	})
	<-done
	for _, f := range others {
		if f.err == nil {
			continue
		}
		// Joining is refused without CAP_SYS_ADMIN. Keep the handle, so
		// that the next scans do not try again, and read the sockets of
		// a process inside, if any: its TIME_WAIT sockets are exact, but
		// its port range cannot be read from outside (the sysctl answers
		// for the reader's namespace), so its ephemeral ports are not
		// counted rather than counted against a range it may not have.
		f.h.unjoined = true
		if f.h.procFS != (snapshot.FS{}) {
			f.h.sockstat.open(f.h.procFS) // /proc/PID/net: that process's namespace
			f.err = fmt.Errorf("%w; reading its TIME_WAIT sockets from /proc/PID/net of a process inside, not its ephemeral ports (its port range cannot be read without joining: CAP_SYS_ADMIN)", f.err)
		}
	}
}

func (n *hostNS) each(visit func(NS) func(*snapshot.Socket), full *[]uint32) (SnapStats, error) {
	errs := []error{n.rescan()}
	var stats SnapStats
	mainLo, mainHi := 32768, 60999
	for _, h := range n.order {
		if h.main && h.ports != nil {
			mainLo, mainHi = preadRange(h.ports)
		}
	}
	for _, h := range n.order {
		h.last = nsFailed
		// Without sock_diag there (or without joining), the tables of a
		// process inside: none in this scan, only a bind mount.
		readable := h.diag != nil || h.procFS != (snapshot.FS{})
		if h.unjoined && h.sockstat.v4 == nil && h.procFS != (snapshot.FS{}) {
			h.sockstat.open(h.procFS) // a process inside at last
		}
		if !readable && h.sockstat.v4 == nil {
			stats.Failed++
			continue
		}
		ns := NS{Ino: h.ino, Lo: mainLo, Hi: mainHi, Main: h.main, NoRange: h.unjoined}
		if !h.main && h.ports != nil {
			ns.Lo, ns.Hi = preadRange(h.ports)
		}
		fn := visit(ns)
		switch {
		case h.sockstat.empty():
			if !h.unjoined {
				h.last = nsSkipped
			}
		case !readable:
		default:
			if err := eachTCP(h.diag, h.procFS, fn); err != nil {
				// The socket may be unusable: open another at the next scan.
				h.broken = h.diag != nil
				errs = append(errs, fmt.Errorf("network namespace %d: %w", h.ino, err))
			} else if !h.unjoined {
				h.last = nsWalked
			}
		}
		if h.last == nsSkipped || h.last == nsWalked && h.diag != nil {
			*full = append(*full, h.ino)
		}
		switch h.last {
		case nsWalked:
			stats.Walked++
		case nsSkipped:
			stats.Skipped++
		default:
			stats.Failed++
		}
	}
	return stats, errors.Join(errs...)
}

// eachTCP streams the TCP sockets of one namespace from sock_diag through
// d (a socket opened inside it), which costs a fraction of /proc/net/tcp's
// text with hundreds of thousands of TIME_WAIT sockets; from fs's
// net/tcp{,6} without d or for a family the kernel has no inet_diag for
// (fs is /proc/thread-self of a thread inside the namespace, or /proc/PID
// of a process inside).
func eachTCP(d *snapshot.Diag, fs snapshot.FS, fn func(*snapshot.Socket)) error {
	if d != nil {
		// One walk of the kernel's hash for both families: it is shared by
		// every namespace, so each walk costs the whole host's sockets.
		err := d.EachTCPAll(fn)
		if err == nil || !errors.Is(err, snapshot.ErrDiagUnsupported) && !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	for i, f := range []snapshot.Family{snapshot.FamilyInet, snapshot.FamilyInet6} {
		if d != nil {
			err := d.EachTCP(f, snapshot.DiagOptions{}, fn)
			if err == nil {
				continue
			}
			if !errors.Is(err, snapshot.ErrDiagUnsupported) {
				return err
			}
		}
		if err := eachTCPProc(fs, []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6}[i], fn); err != nil {
			return err
		}
	}
	return nil
}

func eachTCPProc(fs snapshot.FS, t snapshot.Table, fn func(*snapshot.Socket)) error {
	err := fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
		if s != nil {
			fn(s)
		}
	})
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func readRange(path string) (lo, hi int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 32768, 60999
	}
	return parseRange(b)
}

// preadRange reads an ip_local_port_range file held open: one pread.
func preadRange(f *os.File) (lo, hi int) {
	var buf [64]byte
	n, err := unix.Pread(int(f.Fd()), buf[:], 0)
	if err != nil || n <= 0 {
		return 32768, 60999
	}
	return parseRange(buf[:n])
}

// parseRange parses "lo\thi\n"; the kernel's default when it cannot.
func parseRange(b []byte) (lo, hi int) {
	lo, hi = 32768, 60999
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

// snapFold folds the sockets of the namespaces of one snapshot into the
// gauges: TIME_WAIT sockets by owner summed over the namespaces, and
// ephemeral ports in use per (local address, destination) per namespace,
// of which the gauge keeps the largest: ports run out in one namespace,
// and the alert divides by one range.
type snapFold struct {
	// owner names the command that owned a TIME_WAIT socket's connection
	// in a namespace ("" unknown).
	owner func(netns uint32, local, remote netip.AddrPort) string

	ns        NS
	listening map[uint16]bool // the current namespace's listening ports
	inNS      map[portKey]int // the current namespace's ports in use
	ports     map[portKey]int // the largest over the namespaces so far
	timewait  map[string]int
	rangeSize int
	sawMain   bool
	// namespaces counts the namespaces begun.
	namespaces int
}

// portKey is a local address and a destination, IPv4-mapped addresses
// as IPv4 (the two share the port space).
type portKey struct {
	l netip.Addr
	r netip.AddrPort
}

func newSnapFold(owner func(uint32, netip.AddrPort, netip.AddrPort) string) *snapFold {
	return &snapFold{owner: owner, listening: map[uint16]bool{}, inNS: map[portKey]int{}, ports: map[portKey]int{}, timewait: map[string]int{}}
}

// begin starts a namespace; its sockets follow.
func (f *snapFold) begin(ns NS) {
	f.endNS()
	f.ns = ns
	f.namespaces++
	if ns.Main || !f.sawMain && f.rangeSize == 0 && !ns.NoRange {
		f.rangeSize = ns.Hi - ns.Lo + 1
		f.sawMain = ns.Main
	}
}

func (f *snapFold) endNS() {
	for k, n := range f.inNS {
		f.ports[k] = max(f.ports[k], n)
	}
	clear(f.inNS)
	clear(f.listening)
}

// add counts one socket of the current namespace. A server's connections
// have the listener's port, not an ephemeral one: sock_diag and /proc
// give each family's listeners before its other sockets.
func (f *snapFold) add(s *snapshot.Socket) {
	st := conn.State(s.State)
	lp := s.Local.Port()
	if st == conn.TCPListen {
		f.listening[lp] = true
		return
	}
	if !f.ns.NoRange && int(lp) >= f.ns.Lo && int(lp) <= f.ns.Hi && s.Remote.Port() != 0 && !f.listening[lp] {
		f.inNS[portKey{s.Local.Addr().Unmap(), netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port())}]++
	}
	if st != conn.TCPTimeWait {
		return
	}
	comm := f.owner(f.ns.Ino, s.Local, s.Remote)
	if comm == "" {
		comm = "-"
	}
	f.timewait[comm]++
}

// result ends the last namespace and returns the gauges' values.
func (f *snapFold) result() SnapshotResult {
	f.endNS()
	res := SnapshotResult{TimeWait: f.timewait, RangeSize: f.rangeSize}
	for k, n := range f.ports {
		res.Ports = append(res.Ports, PortUse{LAddr: k.l.String(), RAddr: k.r.Addr().String(), RPort: k.r.Port(), InUse: n})
	}
	return res
}
