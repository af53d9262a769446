package snapshot

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestDecodeInetDiag(t *testing.T) {
	b := make([]byte, sizeofInetDiagMsg+8+8)
	ne := binary.NativeEndian
	b[0], b[1], b[2], b[3] = 2, 10, 0, 0 // AF_INET, LISTEN
	binary.BigEndian.PutUint16(b[4:], 8080)
	copy(b[8:], []byte{127, 0, 0, 1})
	ne.PutUint32(b[44:], 0x11223344)
	ne.PutUint32(b[48:], 0x1)
	ne.PutUint32(b[56:], 3)   // rqueue: accept backlog
	ne.PutUint32(b[60:], 128) // wqueue: max backlog, not a queue
	ne.PutUint32(b[64:], 1000)
	ne.PutUint32(b[68:], 4242)
	// An INET_DIAG_INFO attribute with retransmits 2 and probes 5.
	ne.PutUint16(b[72:], 12)
	ne.PutUint16(b[74:], inetDiagInfo)
	b[76+2], b[76+3] = 2, 5
	var s Socket
	if err := decodeInetDiag(b, FamilyInet, &s); err != nil {
		t.Fatal(err)
	}
	want := Socket{Proto: ProtoTCP, Family: FamilyInet, State: 10,
		Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
		RxQueue: 3, TxQueue: 0, UID: 1000, Inode: 4242, Cookie: 0x1_11223344, Retransmits: 2, Timeout: 5}
	if diff := cmp.Diff(want, s, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := decodeInetDiag(b[:10], FamilyInet, &s); err == nil {
		t.Error("short message decoded")
	}
}

// TestDiagMatchesProc reads the same live sockets through sock_diag and
// /proc/net/tcp{,6}: same rows, same order, same fields (timer expiries,
// which move between the two reads, aside).
func TestDiagMatchesProc(t *testing.T) {
	var conns []net.Conn
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("no loopback listener for %s: %v", addr, err)
		}
		defer ln.Close()
		for i := 0; i < 3; i++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			s, _ := ln.Accept()
			conns = append(conns, s)
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	norm := func(s *Socket) Socket {
		c := *s
		c.Cookie, c.TimerWhen = 0, 0
		return c
	}
	for _, tab := range []Table{TableTCP, TableTCP6} {
		// Other processes' sockets may change between the two reads:
		// three tries, and the last difference is reported.
		var diff string
		for try := 0; try < 3; try++ {
			if diff = diagVsProc(t, tab, norm); diff == "" {
				break
			}
		}
		if diff != "" {
			t.Errorf("%s: /proc (-) and sock_diag (+) differ:\n%s", tab.File(), diff)
		}
	}
}

func diagVsProc(t *testing.T, tab Table, norm func(*Socket) Socket) string {
	{
		var proc, diag []Socket
		if err := NewFS("").EachInet(tab, func(s *Socket, bad *LineError) {
			if s != nil {
				proc = append(proc, norm(s))
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := EachTCPDiag(tab.Family, DiagOptions{Timers: true}, func(s *Socket) { diag = append(diag, norm(s)) }); err != nil {
			t.Fatal(err)
		}
		return cmp.Diff(proc, diag, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }))
	}
}

func BenchmarkDiagTCP(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		EachTCPDiag(FamilyInet, DiagOptions{}, func(*Socket) {})
	}
}

// One Diag serves dump after dump, each whole: a listener opened between
// two dumps is in the second, one closed is gone from the third.
func TestDiagReuse(t *testing.T) {
	d, err := OpenDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	count := func() (found, total int) {
		t.Helper()
		err := d.EachTCP(FamilyInet, DiagOptions{}, func(s *Socket) {
			total++
			if s.Local == addr && s.State == tcpListen {
				found++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for i := 0; i < 3; i++ {
		if found, total := count(); found != 1 {
			t.Fatalf("dump %d: listener %v seen %d times in %d sockets", i, addr, found, total)
		}
	}
	ln.Close()
	if found, _ := count(); found != 0 {
		t.Errorf("closed listener still dumped")
	}
	d.Close()
	if err := d.EachTCP(FamilyInet, DiagOptions{}, func(*Socket) {}); err == nil {
		t.Error("dump on a closed Diag succeeded")
	}
}

// EachTCPAll gives, in one dump, exactly the sockets of the two
// per-family dumps, families included.
func TestDiagAllFamilies(t *testing.T) {
	var keep []net.Listener
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, ln)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	defer func() {
		for _, l := range keep {
			l.Close()
		}
	}()
	d, err := OpenDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	type key struct {
		f      Family
		l, r   netip.AddrPort
		st     uint8
		cookie uint64
	}
	// Only this test's sockets: others come and go between two dumps, and
	// TIME_WAIT sockets of other tests (other packages' tests run at the
	// same time) may name the same ports, used and given back.
	ours := map[uint16]bool{}
	for _, l := range keep {
		ours[netip.MustParseAddrPort(l.Addr().String()).Port()] = true
	}
	count := func(m map[key]int) func(s *Socket) {
		return func(s *Socket) {
			if s.State != 6 && (ours[s.Local.Port()] || ours[s.Remote.Port()]) {
				m[key{s.Family, s.Local, s.Remote, s.State, s.Cookie}]++
			}
		}
	}
	want, got := map[key]int{}, map[key]int{}
	for _, f := range []Family{FamilyInet, FamilyInet6} {
		if err := d.EachTCP(f, DiagOptions{}, count(want)); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) != 6 {
		t.Fatalf("%d sockets of the test, want 6: %v", len(want), want)
	}
	if err := d.EachTCPAll(count(got)); err != nil {
		t.Fatal(err)
	}
	fams := map[Family]bool{}
	for k := range got {
		fams[k.f] = true
	}
	if !fams[FamilyInet] || !fams[FamilyInet6] {
		t.Errorf("families dumped: %v, want both", fams)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-per family +one dump):\n%s", d)
	}
}

// tcpStates opens loopback sockets of both families in every TCP state a
// test can hold without a packet filter: LISTEN, SYN_SENT (a SYN dropped
// by a full accept queue), ESTABLISHED (with and without a keepalive
// timer), FIN_WAIT2 and CLOSE_WAIT (a half-closed connection), TIME_WAIT,
// and an IPv4 peer of an IPv6 socket (an IPv4-mapped row). It returns the
// ports that mark them; everything is closed at the end of the test.
func tcpStates(t *testing.T) map[uint16]bool {
	t.Helper()
	ports := map[uint16]bool{}
	var closers []func()
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
	})
	listen := func(network, addr string) net.Listener {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, func() { ln.Close() })
		ports[netip.MustParseAddrPort(ln.Addr().String()).Port()] = true
		return ln
	}
	pair := func(ln net.Listener, network string) (client, server *net.TCPConn) {
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, func() { c.Close(); s.Close() })
		return c.(*net.TCPConn), s.(*net.TCPConn)
	}
	for _, fam := range []struct {
		network, addr string
		domain        int
		sa            func(port int) unix.Sockaddr
	}{
		{"tcp4", "127.0.0.1:0", unix.AF_INET, func(p int) unix.Sockaddr { return &unix.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}} }},
		{"tcp6", "[::1]:0", unix.AF_INET6, func(p int) unix.Sockaddr { return &unix.SockaddrInet6{Port: p, Addr: netip.IPv6Loopback().As16()} }},
	} {
		ln := listen(fam.network, fam.addr)
		pair(ln, fam.network) // ESTABLISHED both ways
		c, _ := pair(ln, fam.network)
		if err := c.SetKeepAlive(true); err != nil { // a keepalive timer
			t.Fatal(err)
		}
		c, s := pair(ln, fam.network)
		if err := c.CloseWrite(); err != nil { // FIN_WAIT2 and CLOSE_WAIT
			t.Fatal(err)
		}
		c, s = pair(ln, fam.network)
		c.Close() // TIME_WAIT once the server closes too
		s.Close()

		// SYN_SENT: a listener with a backlog of 0 holds one connection in
		// its accept queue and drops the SYN of the next.
		lfd, err := unix.Socket(fam.domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, func() { unix.Close(lfd) })
		if err := unix.Bind(lfd, fam.sa(0)); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(lfd, 0); err != nil {
			t.Fatal(err)
		}
		sa, err := unix.Getsockname(lfd)
		if err != nil {
			t.Fatal(err)
		}
		var port int
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			port = a.Port
		case *unix.SockaddrInet6:
			port = a.Port
		}
		ports[uint16(port)] = true
		for i := 0; i < 2; i++ {
			fd, err := unix.Socket(fam.domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			closers = append(closers, func() { unix.Close(fd) })
			if err := unix.Connect(fd, fam.sa(port)); err != nil && err != unix.EINPROGRESS {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the first fills the queue
		}
	}
	// An IPv4 client of a dual-stack listener: its server side is an
	// AF_INET6 socket with IPv4-mapped addresses.
	ln := listen("tcp", "[::]:0")
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	c, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	closers = append(closers, func() { c.Close(); s.Close() })
	time.Sleep(50 * time.Millisecond) // FINs and ACKs settle
	return ports
}

// EachTCPBoth gives, in one dump, exactly the sockets of the two
// per-family dumps, every field alike (timer expiries, which run on
// between two dumps, within a second), and each family's sockets in the
// order of that family's own dump; with and without tcp_info.
func TestDiagBothMatchesPerFamily(t *testing.T) {
	ports := tcpStates(t)
	d, err := OpenDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ours := func(s *Socket) bool { return ports[s.Local.Port()] || ports[s.Remote.Port()] }
	for _, opt := range []DiagOptions{{}, {Timers: true}} {
		perFamily := map[Family][]Socket{}
		for _, f := range []Family{FamilyInet, FamilyInet6} {
			if err := d.EachTCP(f, opt, func(s *Socket) {
				if ours(s) {
					perFamily[f] = append(perFamily[f], *s)
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		both := map[Family][]Socket{}
		if err := d.EachTCPBoth(opt, func(s *Socket) {
			if ours(s) {
				both[s.Family] = append(both[s.Family], *s)
			}
		}); err != nil {
			t.Fatal(err)
		}
		states := map[uint8]bool{}
		timers := map[int64]bool{}
		mapped := false
		for _, ss := range perFamily {
			for _, s := range ss {
				states[s.State] = true
				timers[s.TimerCode] = true
				mapped = mapped || s.Family == FamilyInet6 && s.Local.Addr().Is4In6()
			}
		}
		// LISTEN, SYN_SENT, ESTABLISHED, FIN_WAIT2, TIME_WAIT, CLOSE_WAIT.
		for _, st := range []uint8{10, 2, 1, 5, 6, 8} {
			if !states[st] {
				t.Errorf("%+v: no socket in state %d among the test's: %v", opt, st, states)
			}
		}
		for _, tc := range []int64{0, 1, 2, 3} {
			if !timers[tc] {
				t.Errorf("%+v: no socket with timer %d among the test's: %v", opt, tc, timers)
			}
		}
		if !mapped {
			t.Errorf("%+v: no IPv4-mapped socket among the test's", opt)
		}
		timerNear := cmp.Comparer(func(a, b Socket) bool {
			if a.TimerWhen > b.TimerWhen+100 || b.TimerWhen > a.TimerWhen+100 {
				return false
			}
			a.TimerWhen = b.TimerWhen
			return a == b
		})
		if diff := cmp.Diff(perFamily, both, timerNear); diff != "" {
			t.Errorf("%+v: (-per family +one dump):\n%s", opt, diff)
		}
	}
}

// Both requests ask for tcp_info with Timers, and only then: every
// established socket of the answer carries INET_DIAG_INFO.
func TestDiagRequestsAskForInfo(t *testing.T) {
	ports := tcpStates(t)
	d, err := OpenDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, opt := range []DiagOptions{{}, {Timers: true}} {
		v4 := tcpRequest(FamilyInet, opt)
		v6 := tcpRequest(FamilyInet6, opt)
		all := tcpAllRequest(opt)
		for name, req := range map[string][]byte{"inet": v4[:], "inet6": v6[:], "both": all[:]} {
			est, withInfo := 0, 0
			err := netlinkDump(d.fd, req, make([]byte, 1<<16), func(typ uint16, b []byte) error {
				if len(b) < sizeofInetDiagMsg || b[1] != 1 {
					return nil
				}
				if !ports[binary.BigEndian.Uint16(b[4:])] && !ports[binary.BigEndian.Uint16(b[6:])] {
					return nil
				}
				est++
				eachAttr(b[sizeofInetDiagMsg:], func(typ uint16, _ []byte) {
					if typ == inetDiagInfo {
						withInfo++
					}
				})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if opt.Timers {
				want = est
			}
			if est == 0 || withInfo != want {
				t.Errorf("%s %+v: %d of %d established sockets with tcp_info, want %d", name, opt, withInfo, est, want)
			}
		}
	}
}

// One listing of both families: two per-family dumps, as netstat's view
// made them, against one dump of both.
func BenchmarkDiagTCPListing(b *testing.B) {
	d, err := OpenDiag()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	for _, bc := range []struct {
		name string
		list func(DiagOptions) error
	}{
		{"per-family", func(opt DiagOptions) error {
			if err := d.EachTCP(FamilyInet, opt, func(*Socket) {}); err != nil {
				return err
			}
			return d.EachTCP(FamilyInet6, opt, func(*Socket) {})
		}},
		{"one-dump", func(opt DiagOptions) error { return d.EachTCPBoth(opt, func(*Socket) {}) }},
	} {
		for _, opt := range []DiagOptions{{}, {Timers: true}} {
			b.Run(fmt.Sprintf("%s/timers=%v", bc.name, opt.Timers), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := bc.list(opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
