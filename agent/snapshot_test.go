package agent

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func sock(l, r string, st conn.State) *snapshot.Socket {
	return &snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet, State: uint8(st),
		Local: netip.MustParseAddrPort(l), Remote: netip.MustParseAddrPort(r)}
}

// Three namespaces, as containers have them: the same tuples in two,
// a listener in one whose port is a client port in another, a range of
// their own in the third. TIME_WAIT owners are each namespace's own,
// summed by command; ports in use are per namespace, the largest kept.
func TestSnapFoldNamespaces(t *testing.T) {
	owners := map[uint32]map[[2]netip.AddrPort]string{
		100: {{netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:8080")}: "curl"},
		200: {{netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:8080")}: "wget",
			{netip.MustParseAddrPort("127.0.0.1:40002"), netip.MustParseAddrPort("127.0.0.1:8080")}: "wget"},
	}
	var asked []uint32
	f := newSnapFold(func(ns uint32, l, r netip.AddrPort) string {
		asked = append(asked, ns)
		return owners[ns][[2]netip.AddrPort{l, r}]
	})
	// A second namespace before the main one: the range gauge is still
	// the main one's.
	f.begin(NS{Ino: 200, Lo: 32768, Hi: 60999})
	for _, s := range []*snapshot.Socket{
		sock("127.0.0.1:8080", "0.0.0.0:0", conn.TCPListen),
		sock("127.0.0.1:40001", "127.0.0.1:8080", conn.TCPTimeWait),
		sock("127.0.0.1:40002", "127.0.0.1:8080", conn.TCPTimeWait),
		sock("127.0.0.1:40003", "127.0.0.1:8080", conn.TCPTimeWait), // owner unknown
		sock("127.0.0.1:40004", "127.0.0.1:8080", conn.TCPEstablished),
		sock("127.0.0.1:8080", "127.0.0.1:40004", conn.TCPEstablished), // the server's end
	} {
		f.add(s)
	}
	f.begin(NS{Ino: 100, Lo: 32768, Hi: 60999, Main: true})
	for _, s := range []*snapshot.Socket{
		sock("127.0.0.1:40001", "127.0.0.1:8080", conn.TCPTimeWait),
		sock("127.0.0.1:40005", "127.0.0.1:8080", conn.TCPEstablished),
		// A server on 40006, inside the range: its end holds no
		// ephemeral port here, and says nothing of namespace 300's
		// client port 40006.
		sock("0.0.0.0:40006", "0.0.0.0:0", conn.TCPListen),
		sock("10.0.0.9:40006", "10.0.0.2:443", conn.TCPEstablished),
	} {
		f.add(s)
	}
	f.begin(NS{Ino: 300, Lo: 40000, Hi: 40010})
	for _, s := range []*snapshot.Socket{
		sock("10.0.0.1:40011", "10.0.0.2:443", conn.TCPTimeWait), // outside its range
		sock("10.0.0.1:40006", "10.0.0.2:443", conn.TCPTimeWait),
		sock("10.0.0.1:40005", "10.0.0.2:443", conn.TCPTimeWait),
		sock("10.0.0.1:40004", "10.0.0.2:443", conn.TCPEstablished),
		{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet6, State: uint8(conn.TCPEstablished), // IPv4-mapped: the same port space
			Local: netip.MustParseAddrPort("[::ffff:10.0.0.1]:40003"), Remote: netip.MustParseAddrPort("[::ffff:10.0.0.2]:443")},
	} {
		f.add(s)
	}
	got := f.result()
	want := SnapshotResult{
		TimeWait: map[string]int{"curl": 1, "wget": 2, "-": 4},
		Ports: []PortUse{
			{"10.0.0.1", "10.0.0.2", 443, 4},    // namespace 300's, 40006 included
			{"127.0.0.1", "127.0.0.1", 8080, 4}, // namespace 200's 4, not 100's 2, nor 6
		},
		RangeSize: 28232,
	}
	sortPorts := cmp.Transformer("sort", func(p []PortUse) map[PortUse]bool {
		m := map[PortUse]bool{}
		for _, x := range p {
			m[x] = true
		}
		return m
	})
	if d := cmp.Diff(want, got, sortPorts); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]uint32{200, 200, 200, 100, 300, 300, 300}, asked); d != "" {
		t.Errorf("owner look-ups by namespace (-want +got):\n%s", d)
	}
}

// The host snapshotter finds the agent's own namespace first, as the main
// one, with the sockets of this process in it, and keeps its sock_diag
// socket from one snapshot to the next.
func TestHostSnapshotterOwnNamespace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	s := NewHostSnapshotter("/proc")
	defer s.Close()
	var held *snapshot.Diag
	for round := 0; round < 2; round++ {
		var seen []NS
		found := map[uint32]int{}
		err := s.Each(func(ns NS) func(*snapshot.Socket) {
			seen = append(seen, ns)
			return func(x *snapshot.Socket) {
				if x.Local == addr && x.State == uint8(conn.TCPListen) {
					found[ns.Ino]++
				}
			}
		})
		if err != nil && os.Geteuid() != 0 {
			t.Logf("not root: %v", err) // other users' namespaces may not be joined
		} else if err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 || !seen[0].Main || seen[0].Ino != uint32(st.Ino) {
			t.Fatalf("round %d: first namespace %+v, want the main one, inode %d", round, seen, st.Ino)
		}
		for _, ns := range seen[1:] {
			if ns.Main || ns.Ino == uint32(st.Ino) {
				t.Errorf("round %d: namespace %+v twice or main twice", round, ns)
			}
		}
		if found[uint32(st.Ino)] != 1 || len(found) != 1 {
			t.Errorf("round %d: listener %v found %v, want once in %d", round, addr, found, st.Ino)
		}
		h := s.host.order[0]
		if h.diag == nil {
			t.Fatalf("round %d: no sock_diag socket for the own namespace", round)
		}
		if round == 1 && h.diag != held {
			t.Error("the own namespace's sock_diag socket was opened again")
		}
		held = h.diag
	}
}
