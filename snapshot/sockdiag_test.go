package snapshot

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	// Only this test's sockets: others come and go between two dumps.
	ours := map[uint16]bool{}
	for _, l := range keep {
		ours[netip.MustParseAddrPort(l.Addr().String()).Port()] = true
	}
	count := func(m map[key]int) func(s *Socket) {
		return func(s *Socket) {
			if ours[s.Local.Port()] || ours[s.Remote.Port()] {
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
