package agent

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestParseSockstat(t *testing.T) {
	const v4 = "sockets: used 10\nTCP: inuse 3 orphan 1 tw 7 alloc 5 mem 108\nUDP: inuse 0 mem 0\n"
	const v6 = "TCP6: inuse 2\nUDP6: inuse 0\n"
	for _, c := range []struct {
		text, proto string
		inuse, tw   int
		ok          bool
	}{
		{v4, "TCP:", 3, 7, true},
		{v6, "TCP6:", 2, 0, true},
		{v4, "TCP6:", 0, 0, false},                            // no such line
		{"TCP: inuse x orphan 0 tw 0\n", "TCP:", 0, 0, false}, // not a number
		{"TCP: inuse 1 orphan 0 tw\n", "TCP:", 0, 0, false},   // a key without value
		{"TCP: orphan 0 tw 4\n", "TCP:", 0, 0, false},         // no inuse
		{"TCP: inuse -1 tw 0\n", "TCP:", 0, 0, false},
	} {
		inuse, tw, ok := parseSockstat([]byte(c.text), c.proto)
		if inuse != c.inuse || tw != c.tw || ok != c.ok {
			t.Errorf("parseSockstat(%q, %q) = %d, %d, %v; want %d, %d, %v", c.text, c.proto, inuse, tw, ok, c.inuse, c.tw, c.ok)
		}
	}
}

// The wait after a snapshot is the interval, or 20 times the snapshot's
// duration when that is longer: snapshots take at most about 5% of a
// core.
func TestNextSnapshot(t *testing.T) {
	for _, c := range []struct{ iv, d, want time.Duration }{
		{5 * time.Second, 17 * time.Millisecond, 5 * time.Second},
		{5 * time.Second, 250 * time.Millisecond, 5 * time.Second},
		{5 * time.Second, 840 * time.Millisecond, 16800 * time.Millisecond},
		{300 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second},
	} {
		if got := nextSnapshot(c.iv, c.d); got != c.want {
			t.Errorf("nextSnapshot(%v, %v) = %v, want %v", c.iv, c.d, got, c.want)
		}
	}
}

// A namespace the agent could not join has no known port range: its
// TIME_WAIT sockets count, its ports are no ephemeral ports, and its
// range is not the range gauge's.
func TestSnapFoldNoRange(t *testing.T) {
	f := newSnapFold(func(uint32, netip.AddrPort, netip.AddrPort) string { return "curl" })
	f.begin(NS{Ino: 200, Lo: 32768, Hi: 60999, NoRange: true})
	f.add(sock("127.0.0.1:40001", "127.0.0.1:8080", conn.TCPTimeWait))
	f.add(sock("127.0.0.1:40002", "127.0.0.1:8080", conn.TCPEstablished))
	f.begin(NS{Ino: 300, Lo: 40000, Hi: 40010})
	f.add(sock("127.0.0.1:40003", "127.0.0.1:9090", conn.TCPEstablished))
	got := f.result()
	if got.TimeWait["curl"] != 1 || len(got.Ports) != 1 || got.Ports[0] != (PortUse{"127.0.0.1", "127.0.0.1", 9090, 1}) || got.RangeSize != 11 {
		t.Errorf("got %+v, want 1 TIME_WAIT of curl, 9090's port alone, range 11 (the joined namespace's)", got)
	}
}

func TestSnapshotCostMetrics(t *testing.T) {
	m := NewMetrics("x", 20, nil, nil)
	if n, err := testutil.GatherAndCount(m.Registry, "bpfnetstat_snapshot_duration_seconds", "bpfnetstat_snapshot_namespaces"); err != nil || n != 0 {
		t.Fatalf("before any snapshot: %d series (%v), want none", n, err)
	}
	m.SetSnapshotCost(1500*time.Millisecond, SnapStats{Walked: 10, Skipped: 40, Failed: 2})
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP bpfnetstat_snapshot_duration_seconds `+helpSnapDuration+`
# TYPE bpfnetstat_snapshot_duration_seconds gauge
bpfnetstat_snapshot_duration_seconds 1.5
# HELP bpfnetstat_snapshot_namespaces `+helpSnapNS+`
# TYPE bpfnetstat_snapshot_namespaces gauge
bpfnetstat_snapshot_namespaces{result="failed"} 2
bpfnetstat_snapshot_namespaces{result="skipped"} 40
bpfnetstat_snapshot_namespaces{result="walked"} 10
`), "bpfnetstat_snapshot_duration_seconds", "bpfnetstat_snapshot_namespaces"); err != nil {
		t.Error(err)
	}
}

// requireRootNS skips t without root, or fails it when
// BPFNETSTAT_REQUIRE_ROOT=1. Such tests make network namespaces: run them
// under the e2e lock.
func requireRootNS(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
		t.Fatal("needs root for network namespaces, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping")
	}
	t.Skip("needs root for network namespaces")
}

// testNetns makes a named network namespace with lo up, deleted when t
// ends, and returns its name and inode.
func testNetns(t *testing.T, tag string) (string, uint32) {
	t.Helper()
	name := fmt.Sprintf("bpfns-unit-%d-%s", os.Getpid(), tag)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link: %v: %s", err, out)
	}
	var st unix.Stat_t
	if err := unix.Stat("/run/netns/"+name, &st); err != nil {
		t.Fatal(err)
	}
	return name, uint32(st.Ino)
}

// inNetns runs fn on a thread that joined namespace name and ends with
// fn.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	goThread(func() {
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- err
			return
		}
		errc <- fn()
	})
	return <-errc
}

// sockstat's TCP inuse and tw are each namespace's own, and a sockstat
// file opened by a thread inside a namespace keeps answering for that
// namespace once the thread is gone, whoever reads it.
func TestSockstatPerNamespace(t *testing.T) {
	requireRootNS(t)
	a, _ := testNetns(t, "ssa")
	b, _ := testNetns(t, "ssb")
	var sa, sb sockstat
	for _, x := range []struct {
		ns string
		s  *sockstat
	}{{a, &sa}, {b, &sb}} {
		if err := inNetns(x.ns, func() error {
			x.s.open(snapshot.NewFS("/proc/thread-self"))
			if x.s.v4 == nil || x.s.v6 == nil {
				return fmt.Errorf("sockstat{,6} not opened")
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", x.ns, err)
		}
	}
	defer sa.close()
	defer sb.close()
	counts := func(s *sockstat) [3]int {
		in4, tw, ok4 := preadSockstat(s.v4, "TCP:")
		in6, _, ok6 := preadSockstat(s.v6, "TCP6:")
		if !ok4 || !ok6 {
			t.Fatal("sockstat not read")
		}
		return [3]int{in4, tw, in6}
	}
	check := func(step string, wantA, wantB [3]int, emptyA, emptyB bool) {
		t.Helper()
		if got := counts(&sa); got != wantA || sa.empty() != emptyA {
			t.Errorf("%s: %s: TCP inuse, tw, TCP6 inuse %v (empty %v), want %v (%v)", step, a, got, sa.empty(), wantA, emptyA)
		}
		if got := counts(&sb); got != wantB || sb.empty() != emptyB {
			t.Errorf("%s: %s: TCP inuse, tw, TCP6 inuse %v (empty %v), want %v (%v)", step, b, got, sb.empty(), wantB, emptyB)
		}
	}
	check("new", [3]int{}, [3]int{}, true, true)
	if err := benchTimeWait(a, 3); err != nil {
		t.Fatal(err)
	}
	check("3 TIME_WAIT in a", [3]int{0, 3, 0}, [3]int{}, false, true)
	var l6, l4 net.Listener
	if err := inNetns(b, func() (err error) {
		l6, err = net.Listen("tcp6", "[::1]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("an IPv6 listener in b", [3]int{0, 3, 0}, [3]int{0, 0, 1}, false, false)
	if err := inNetns(b, func() (err error) {
		l4, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("and an IPv4 one", [3]int{0, 3, 0}, [3]int{1, 0, 1}, false, false)
	l6.Close()
	l4.Close()
	check("b's listeners closed", [3]int{0, 3, 0}, [3]int{}, false, true)
}

// The host snapshotter dumps only the namespaces that hold TCP sockets:
// an empty one is visited (its range counts) but not walked, until it
// holds a socket.
func TestHostSnapshotterSkipsEmpty(t *testing.T) {
	requireRootNS(t)
	a, inoA := testNetns(t, "ska")
	b, inoB := testNetns(t, "skb")
	if err := benchTimeWait(a, 4); err != nil {
		t.Fatal(err)
	}
	s := NewHostSnapshotter("/proc")
	defer s.Close()
	defer s.Close() // twice is fine
	round := func() (visited map[uint32]bool, tw map[uint32]int, listen map[uint32]int, stats SnapStats) {
		visited, tw, listen = map[uint32]bool{}, map[uint32]int{}, map[uint32]int{}
		err := s.Each(func(ns NS) func(*snapshot.Socket) {
			if ns.NoRange {
				t.Errorf("namespace %d not joined", ns.Ino)
			}
			visited[ns.Ino] = true
			return func(x *snapshot.Socket) {
				switch conn.State(x.State) {
				case conn.TCPTimeWait:
					tw[ns.Ino]++
				case conn.TCPListen:
					listen[ns.Ino]++
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return visited, tw, listen, s.Stats()
	}
	last := func(ino uint32) nsResult {
		for _, h := range s.host.order {
			if h.ino == ino {
				return h.last
			}
		}
		t.Fatalf("namespace %d not held", ino)
		return 0
	}
	visited, tw, listen, stats := round()
	if !visited[inoA] || !visited[inoB] || tw[inoA] != 4 || tw[inoB] != 0 || listen[inoB] != 0 {
		t.Errorf("visited %v, TIME_WAIT %v, listeners %v; want both visited, 4 TIME_WAIT in %s, nothing in %s", visited, tw, listen, a, b)
	}
	if last(inoA) != nsWalked || last(inoB) != nsSkipped {
		t.Errorf("%s %v, %s %v; want walked, skipped", a, last(inoA), b, last(inoB))
	}
	if stats.Walked < 1 || stats.Skipped < 1 || stats.Failed != 0 || stats.Walked+stats.Skipped != len(s.host.order) {
		t.Errorf("stats %+v over %d namespaces", stats, len(s.host.order))
	}
	var l net.Listener
	if err := inNetns(b, func() (err error) {
		l, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, _, listen, stats2 := round()
	if listen[inoB] != 1 || last(inoB) != nsWalked || stats2.Walked != stats.Walked+1 || stats2.Skipped != stats.Skipped-1 {
		t.Errorf("with a listener in %s: listeners %v, %v, stats %+v after %+v; want its listener walked", b, listen, last(inoB), stats2, stats)
	}
}

// The --netns snapshotter's thread ends at Close; a second Close does
// nothing and Each after Close fails.
func TestNetNSSnapshotterClose(t *testing.T) {
	requireRootNS(t)
	name, ino := testNetns(t, "cl")
	s, err := NewNetNSSnapshotter("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var seen []NS
	if err := s.Each(func(ns NS) func(*snapshot.Socket) { seen = append(seen, ns); return func(*snapshot.Socket) {} }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Ino != ino || !seen[0].Main || s.Stats() != (SnapStats{Skipped: 1}) {
		t.Errorf("visited %+v, stats %+v; want %d once, main, skipped (empty)", seen, s.Stats(), ino)
	}
	if err := benchTimeWait(name, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.Each(func(NS) func(*snapshot.Socket) {
		return func(x *snapshot.Socket) {
			if conn.State(x.State) == conn.TCPTimeWait {
				n++
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 || s.Stats() != (SnapStats{Walked: 1}) {
		t.Errorf("%d sockets, stats %+v; want 2 TIME_WAIT, walked", n, s.Stats())
	}
	s.Close()
	s.Close()
	if err := s.Each(func(NS) func(*snapshot.Socket) { return nil }); err == nil {
		t.Error("Each after Close did not fail")
	}
}
