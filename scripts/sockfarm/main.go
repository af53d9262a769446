// Command sockfarm builds the socket population that
// scripts/bench-snapshot.sh times bpfnetstat, netstat and ss against, in
// whatever network namespace it runs in:
//
//   - -conns established loopback TCP connections, both ends held open
//     (so 2 x -conns ESTABLISHED sockets): 70% IPv4 from source addresses
//     spread over 127.0.0.0/8, 25% IPv6 over ::1, 5% IPv4 to a dual-stack
//     listener (server end shown as tcp6 ::ffff:127.0.0.1);
//   - two TCP listeners per worker (0.0.0.0:PORT and dual-stack [::]:PORT);
//   - -udp UDP sockets (IPv4 and IPv6, bound; a quarter connected);
//   - -unix UNIX stream connections (both ends) to a listener per worker
//     under -dir, and a few datagram socket pairs;
//   - -tw TIME_WAIT sockets (the client end closes first, the server end
//     closes once it has read the FIN).
//
// A process may hold only so many files, so the sockets are spread over
// worker processes (re-executions of this binary), each holding at most
// -maxfds of them; there are at least 4. Workers die with the parent.
//
// TIME_WAIT sockets hold no file and the kernel frees them after 60 s (a
// little more: timer-wheel slack), and a benchmark lasts longer than that.
// The parent keeps their number up: it polls the namespace's TIME_WAIT
// count through sock_diag every second and, when it has fallen below half
// of -tw (a batch expires all at once), makes a new batch. Between an
// expiry and its refill (about a second) a listing sees fewer TIME_WAIT
// sockets; nothing else moves. Run the namespace with
// net.ipv4.tcp_tw_reuse=0 so that new connections do not recycle them.
//
// Once every socket is in place and the TIME_WAIT batch has settled (no
// socket left in a closing state), the parent prints one line on stdout
// and closes it:
//
//	ready conns=N workers=W tcp=T udp=U unix=X timewait=K
//
// then holds everything until SIGTERM or SIGINT (or stdin reaching EOF,
// with -stdin), when it kills its workers and exits 0. On any failure it
// prints the reason on stderr and exits 1 without a ready line.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	conns    int
	udp      int
	unixConn int
	tw       int
	maxfds   int
	port4    int // worker i listens on 0.0.0.0:port4+i
	port6    int // and on [::]:port6+i
	dir      string
	stdin    bool
}

// share is one worker's part of the population.
type share struct {
	idx, conns, udp, unixConn int
}

func main() {
	var c config
	worker := flag.Int("worker", -1, "internal: run as worker number N")
	var w share
	flag.IntVar(&c.conns, "conns", 1000, "established TCP connections (both ends held: 2 sockets each)")
	flag.IntVar(&c.udp, "udp", 100, "UDP sockets")
	flag.IntVar(&c.unixConn, "unix", 100, "UNIX stream connections (both ends held)")
	flag.IntVar(&c.tw, "tw", 500, "TIME_WAIT sockets to keep")
	flag.IntVar(&c.maxfds, "maxfds", 17000, "sockets per worker process at most")
	flag.IntVar(&c.port4, "port4", 2000, "first IPv4 listener port (keep it out of ip_local_port_range)")
	flag.IntVar(&c.port6, "port6", 3000, "first dual-stack listener port (likewise)")
	flag.StringVar(&c.dir, "dir", "", "directory for the UNIX listeners' socket files (required)")
	flag.BoolVar(&c.stdin, "stdin", false, "also stop when stdin reaches EOF")
	flag.IntVar(&w.conns, "wconns", 0, "internal")
	flag.IntVar(&w.udp, "wudp", 0, "internal")
	flag.IntVar(&w.unixConn, "wunix", 0, "internal")
	flag.Parse()
	if flag.NArg() > 0 || c.conns < 0 || c.udp < 0 || c.unixConn < 0 || c.tw < 0 || c.maxfds < 100 ||
		c.port4 < 1 || c.port6 < 1 || c.dir == "" {
		fmt.Fprintln(os.Stderr, "sockfarm: bad arguments (see -h)")
		os.Exit(2)
	}
	var err error
	if *worker >= 0 {
		w.idx = *worker
		err = runWorker(c, w)
	} else {
		err = runParent(c)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sockfarm: %v\n", err)
		os.Exit(1)
	}
}

// split divides total into n near-equal parts.
func split(total, n, i int) int {
	q, r := total/n, total%n
	if i < r {
		return q + 1
	}
	return q
}

func runParent(c config) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	perConnFds := 2
	fds := perConnFds*c.conns + c.udp + 2*c.unixConn
	workers := max(4, (fds+c.maxfds-1)/c.maxfds)
	if workers > 900 {
		return fmt.Errorf("%d workers: too many", workers)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	readies := make(chan error, workers)
	for i := 0; i < workers; i++ {
		s := share{idx: i, conns: split(c.conns, workers, i), udp: split(c.udp, workers, i), unixConn: split(c.unixConn, workers, i)}
		cmd := exec.Command(self, "-worker", strconv.Itoa(i),
			"-wconns", strconv.Itoa(s.conns), "-wudp", strconv.Itoa(s.udp), "-wunix", strconv.Itoa(s.unixConn),
			"-port4", strconv.Itoa(c.port4), "-port6", strconv.Itoa(c.port6), "-dir", c.dir,
			"-maxfds", strconv.Itoa(c.maxfds))
		cmd.Stderr = os.Stderr
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		// Workers die with the parent, whatever kills it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if _, err := cmd.StdinPipe(); err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		go func(i int, out io.Reader) {
			sc := bufio.NewScanner(out)
			if sc.Scan() && sc.Text() == "ready" {
				readies <- nil
				io.Copy(io.Discard, out)
				return
			}
			readies <- fmt.Errorf("worker %d did not get ready", i)
		}(i, out)
	}
	for range workers {
		select {
		case err := <-readies:
			if err != nil {
				return err
			}
		case s := <-sigs:
			return fmt.Errorf("%v before ready", s)
		}
	}

	// TIME_WAIT: one batch now, then keep the count up.
	if c.tw > 0 {
		if err := timeWaitBatch(c.tw); err != nil {
			return fmt.Errorf("TIME_WAIT batch: %w", err)
		}
	}
	if err := settle(c.tw, 10*time.Second); err != nil {
		return err
	}
	twErr := make(chan error, 1)
	if c.tw > 0 {
		go keepTimeWait(c.tw, twErr)
	}

	fmt.Printf("ready conns=%d workers=%d tcp=%d udp=%d unix=%d timewait=%d\n",
		c.conns, workers, 2*c.conns+2*workers, c.udp, 2*c.unixConn+2*8*workers+workers, c.tw)
	os.Stdout.Close()

	eof := make(chan struct{})
	if c.stdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
	}
	died := make(chan error, workers)
	for i, p := range procs {
		go func(i int, p *exec.Cmd) {
			// Wait is called once, in the deferred cleanup; here only notice a death.
			var info unix.Siginfo
			for {
				err := unix.Waitid(unix.P_PID, p.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
				if err == unix.EINTR {
					continue
				}
				if err == nil {
					died <- fmt.Errorf("worker %d ended", i)
				}
				return
			}
		}(i, p)
	}
	select {
	case <-sigs:
		return nil
	case <-eof:
		return nil
	case err := <-died:
		return err
	case err := <-twErr:
		return err
	}
}

// ---- worker ----

func runWorker(c config, w share) error {
	var held []int // every socket stays open until the process dies
	hold := func(fd int) { held = append(held, fd) }

	// Listeners: 0.0.0.0:port4+i and dual-stack [::]:port6+i.
	l4, err := listenTCP(unix.AF_INET, &unix.SockaddrInet4{Port: c.port4 + w.idx}, false)
	if err != nil {
		return fmt.Errorf("worker %d: listen v4: %w", w.idx, err)
	}
	hold(l4)
	l6, err := listenTCP(unix.AF_INET6, &unix.SockaddrInet6{Port: c.port6 + w.idx}, true)
	if err != nil {
		return fmt.Errorf("worker %d: listen v6: %w", w.idx, err)
	}
	hold(l6)

	// Established connections, in batches well under the accept backlog.
	v6 := w.conns / 4
	mapped := w.conns / 20
	v4 := w.conns - v6 - mapped
	lo4 := [4]byte{127, 0, 0, 1}
	dst4 := &unix.SockaddrInet4{Port: c.port4 + w.idx, Addr: lo4}
	dstMapped := &unix.SockaddrInet4{Port: c.port6 + w.idx, Addr: lo4}
	dst6 := &unix.SockaddrInet6{Port: c.port6 + w.idx, Addr: [16]byte{15: 1}}
	n := 0 // connection number within this worker: picks the source address
	connectBatch := func(count int, ln int, dst unix.Sockaddr, v4src bool) error {
		const batch = 2048
		for count > 0 {
			b := min(batch, count)
			for range b {
				var fd int
				var err error
				if v4src {
					// 127.(1+idx).x.y: a distinct source address for each of
					// this worker's connections (no ephemeral-port pressure).
					src := &unix.SockaddrInet4{Addr: [4]byte{127, byte(1 + w.idx%250), byte(n / 250 % 250), byte(1 + n%250)}}
					fd, err = connectTCP(unix.AF_INET, src, dst)
				} else {
					fd, err = connectTCP(unix.AF_INET6, nil, dst)
				}
				if err != nil {
					return err
				}
				n++
				hold(fd)
			}
			for range b {
				fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
				if err != nil {
					return fmt.Errorf("accept: %w", err)
				}
				hold(fd)
			}
			count -= b
		}
		return nil
	}
	if err := connectBatch(v4, l4, dst4, true); err != nil {
		return fmt.Errorf("worker %d: v4 connections: %w", w.idx, err)
	}
	if err := connectBatch(mapped, l6, dstMapped, true); err != nil {
		return fmt.Errorf("worker %d: v4-mapped connections: %w", w.idx, err)
	}
	if err := connectBatch(v6, l6, dst6, false); err != nil {
		return fmt.Errorf("worker %d: v6 connections: %w", w.idx, err)
	}

	// UDP: bound to 127.0.0.1, 0.0.0.0 and ::1 (ephemeral ports); every
	// fourth one connected to the first.
	var first unix.Sockaddr
	for i := range w.udp {
		var fd int
		var err error
		switch i % 4 {
		case 0:
			fd, err = udpSocket(unix.AF_INET, &unix.SockaddrInet4{Addr: lo4}, nil)
			if err == nil && first == nil {
				first, err = unix.Getsockname(fd)
			}
		case 1:
			fd, err = udpSocket(unix.AF_INET, &unix.SockaddrInet4{}, nil)
		case 2:
			fd, err = udpSocket(unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, nil)
		case 3:
			fd, err = udpSocket(unix.AF_INET, &unix.SockaddrInet4{Addr: lo4}, first)
		}
		if err != nil {
			return fmt.Errorf("worker %d: udp: %w", w.idx, err)
		}
		hold(fd)
	}

	// UNIX: a stream listener with a path, connections to it, and a few
	// unnamed datagram pairs.
	path := filepath.Join(c.dir, fmt.Sprintf("farm%d.sock", w.idx))
	os.Remove(path)
	ul, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	hold(ul)
	if err := unix.Bind(ul, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("worker %d: bind %s: %w", w.idx, path, err)
	}
	if err := unix.Listen(ul, 4096); err != nil {
		return err
	}
	for left := w.unixConn; left > 0; {
		b := min(1024, left)
		for range b {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("worker %d: unix socket: %w", w.idx, err)
			}
			hold(fd)
			if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
				return fmt.Errorf("worker %d: unix connect: %w", w.idx, err)
			}
		}
		for range b {
			fd, _, err := unix.Accept4(ul, unix.SOCK_CLOEXEC)
			if err != nil {
				return fmt.Errorf("worker %d: unix accept: %w", w.idx, err)
			}
			hold(fd)
		}
		left -= b
	}
	for range 8 {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		hold(p[0])
		hold(p[1])
	}

	fmt.Println("ready")
	// Held until the parent kills us or goes away (EOF on our stdin, a
	// pipe from the parent that it never writes).
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(held)
	return nil
}

func listenTCP(family int, addr unix.Sockaddr, dual bool) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if family == unix.AF_INET6 {
		v := 1
		if dual {
			v = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 65535); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// connectTCP is a blocking connect, from src (port chosen at connect time)
// if not nil.
func connectTCP(family int, src, dst unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if src != nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if err := unix.Bind(fd, src); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind: %w", err)
		}
	}
	if err := unix.Connect(fd, dst); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

func udpSocket(family int, addr, peer unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if peer != nil {
		if err := unix.Connect(fd, peer); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// ---- TIME_WAIT ----

// timeWaitBatch makes k TIME_WAIT sockets (three quarters IPv4, the rest
// IPv6) through a temporary listener on an ephemeral port: connect, accept,
// close the client end, read the FIN on the server end, close it.
func timeWaitBatch(k int) error {
	k6 := k / 4
	if err := timeWaitFamily(unix.AF_INET, k-k6); err != nil {
		return err
	}
	return timeWaitFamily(unix.AF_INET6, k6)
}

func timeWaitFamily(family, k int) error {
	if k == 0 {
		return nil
	}
	var bindAddr unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == unix.AF_INET6 {
		bindAddr = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	ln, err := listenTCP(family, bindAddr, false)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	dst, err := unix.Getsockname(ln)
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	for k > 0 {
		b := min(1024, k)
		clients := make([]int, 0, b)
		servers := make([]int, 0, b)
		closeAll := func() {
			for _, fd := range clients {
				unix.Close(fd)
			}
			for _, fd := range servers {
				unix.Close(fd)
			}
		}
		for range b {
			fd, err := connectTCP(family, nil, dst)
			if err != nil {
				closeAll()
				return err
			}
			clients = append(clients, fd)
		}
		for range b {
			fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				closeAll()
				return err
			}
			servers = append(servers, fd)
		}
		for _, fd := range clients {
			unix.Close(fd) // the client closes first: its end goes to TIME_WAIT
		}
		clients = nil
		for _, fd := range servers {
			for { // blocking read until the FIN (EOF)
				n, err := unix.Read(fd, buf)
				if err == unix.EINTR || (err == nil && n > 0) {
					continue
				}
				break
			}
		}
		closeAll()
		k -= b
	}
	return nil
}

// keepTimeWait refills the TIME_WAIT population when a batch expires.
func keepTimeWait(k int, errs chan<- error) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		counts, err := tcpStates()
		if err != nil {
			errs <- err
			return
		}
		if have := counts[tcpTimeWait]; have < k/2 {
			if err := timeWaitBatch(k - have); err != nil {
				errs <- fmt.Errorf("TIME_WAIT refill: %w", err)
				return
			}
			fmt.Fprintf(os.Stderr, "sockfarm: TIME_WAIT refill at %s: %d had expired, %d made\n",
				time.Now().Format("15:04:05"), k-have, k-have)
		}
	}
}

// TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpTimeWait    = 6
	tcpClose       = 7
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpListen      = 10
	tcpClosing     = 11
)

// settle waits until the namespace holds exactly tw TIME_WAIT sockets and
// none in a transient state (the TIME_WAIT batch's handshakes are over).
// It polls the kernel's state every 10 ms: a condition, not a guess.
func settle(tw int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		counts, err := tcpStates()
		if err != nil {
			return err
		}
		transient := 0
		for _, s := range []int{tcpSynSent, tcpSynRecv, tcpFinWait1, tcpFinWait2, tcpCloseWait, tcpLastAck, tcpClosing} {
			transient += counts[s]
		}
		if counts[tcpTimeWait] == tw && transient == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sockets did not settle: %d TIME_WAIT (want %d), %d in closing states", counts[tcpTimeWait], tw, transient)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tcpStates counts the namespace's TCP sockets by state (IPv4 and IPv6)
// with sock_diag dumps, leaving out ESTABLISHED and LISTEN (the kernel
// still walks its tables, but formats only the sockets asked for).
func tcpStates() ([12]int, error) {
	var counts [12]int
	states := uint32(0xfff) &^ (1<<tcpEstablished | 1<<tcpListen)
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if err := diagDump(family, states, func(state uint8) {
			if int(state) < len(counts) {
				counts[state]++
			}
		}); err != nil {
			return counts, err
		}
	}
	return counts, nil
}

func diagDump(family uint8, states uint32, each func(state uint8)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	// nlmsghdr (16) + inet_diag_req_v2 (56).
	req := make([]byte, 16+56)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	req[16] = family
	req[17] = unix.IPPROTO_TCP
	ne.PutUint32(req[20:], states)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag send: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("sock_diag recv: %w", err)
		}
		b := buf[:n]
		for len(b) >= 16 {
			l := int(ne.Uint32(b[0:]))
			typ := ne.Uint16(b[4:])
			if l < 16 || l > len(b) {
				return errors.New("sock_diag: bad message length")
			}
			switch typ {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if l >= 20 {
					if e := int32(ne.Uint32(b[16:])); e != 0 {
						return fmt.Errorf("sock_diag: %w", unix.Errno(-e))
					}
				}
				return nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if l >= 16+2 {
					each(b[17]) // inet_diag_msg.idiag_state
				}
			}
			b = b[(l+3)&^3:]
		}
	}
}
