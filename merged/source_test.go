package merged

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// With UseDiag, Rows gives from one sock_diag dump the rows /proc gives:
// the same sockets of both families with the same owners (this process,
// for the sockets it holds), each family in /proc's order; the socket
// stays open from refresh to refresh and Close closes it.
func TestSourceDiagRows(t *testing.T) {
	// The test's own endpoints: each listener and each client. Matching
	// rows by port alone also took in other tests' TIME_WAIT sockets left
	// on a port the kernel has since handed to one of these listeners.
	ends := map[netip.AddrPort]bool{}
	end := func(a net.Addr) { ends[netip.MustParseAddrPort(a.String())] = true }
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		end(ln.Addr())
		for i := 0; i < 3; i++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			end(c.LocalAddr())
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 { // TIME_WAIT
				c.Close()
				s.Close()
				continue
			}
			defer c.Close()
			defer s.Close()
		}
	}
	ours := func(rows []Row) map[snapshot.Family][]Row {
		m := map[snapshot.Family][]Row{}
		for _, r := range rows {
			if ends[r.Sock.Local] && (ends[r.Sock.Remote] || r.Sock.Remote.Port() == 0) {
				m[r.Sock.Family] = append(m[r.Sock.Family], r)
			}
		}
		return m
	}
	fs := snapshot.NewFS("")
	proc := NewSource(fs, owners.Options{}, nil)
	defer proc.Close()
	diag := NewSource(fs, owners.Options{}, nil)
	diag.UseDiag()
	defer diag.Close()
	want := ours(proc.Rows())
	if len(want[snapshot.FamilyInet]) != 6 || len(want[snapshot.FamilyInet6]) != 6 {
		t.Fatalf("/proc lists %d IPv4 and %d IPv6 rows of the test, want 6 and 6", len(want[snapshot.FamilyInet]), len(want[snapshot.FamilyInet6]))
	}
	owned := 0
	for _, r := range want[snapshot.FamilyInet] {
		if r.HasOwner {
			owned++
		}
	}
	if owned != 5 { // all but the TIME_WAIT row
		t.Errorf("%d IPv4 rows with an owner, want 5", owned)
	}
	for refresh := 0; refresh < 2; refresh++ {
		got := ours(diag.Rows())
		if diag.diag == nil {
			t.Fatalf("refresh %d: no sock_diag socket: the rows came from /proc", refresh)
		}
		for _, f := range []snapshot.Family{snapshot.FamilyInet, snapshot.FamilyInet6} {
			if !slices.Equal(got[f], want[f]) {
				t.Errorf("refresh %d, %v: sock_diag rows\n%+v\n/proc rows\n%+v", refresh, f, got[f], want[f])
			}
		}
	}
	diag.Close()
	if diag.diag != nil {
		t.Error("Close left the sock_diag socket open")
	}
}
