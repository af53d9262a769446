package merged

import (
	"net/netip"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// ev builds a state event of a connection between two fixed endpoints.
func stateEv(cookie uint64, ts uint64, old, new conn.State, src conn.OwnerSource, pid uint32, dir conn.Direction) *tracer.Event {
	return &tracer.Event{Kind: tracer.KindState, TimeNs: ts, Cookie: cookie, Family: snapshot.FamilyInet,
		Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("127.0.0.1:40000"),
		OldState: old, NewState: new, OwnerSource: src, Owner: conn.Process{PID: pid}, Direction: dir, StateNs: ts - 1}
}

func TestTablePassiveOwnerComesFromAccept(t *testing.T) {
	tab := NewTable(TableConfig{})
	var got []conn.Transition
	s := NewStream(tab, 100)
	emit := func(tr *conn.Transition) { got = append(got, *tr) }

	s.Push(stateEv(5, 10, conn.TCPListen, conn.TCPSynRecv, conn.OwnerListener, 1, conn.DirPassive), emit)
	s.Push(stateEv(5, 11, conn.TCPSynRecv, conn.TCPEstablished, conn.OwnerListener, 1, conn.DirPassive), emit)
	if len(got) != 0 || s.Pending() != 1 {
		t.Fatalf("passive transitions must wait for accept: got %d, pending %d", len(got), s.Pending())
	}
	acc := &tracer.Event{Kind: tracer.KindAccept, TimeNs: 12, Cookie: 5, Owner: conn.Process{PID: 42, Comm: "worker"}, OwnerSource: conn.OwnerAccept, Direction: conn.DirPassive, NewState: conn.TCPEstablished}
	s.Push(acc, emit)
	if len(got) != 2 || got[0].Conn.Owner.PID != 42 || got[1].Conn.OwnerSource != conn.OwnerAccept {
		t.Fatalf("after accept: %+v", got)
	}
	// A later event that still carries the listener's owner (BPF storage
	// was cloned from the listener) must not take the connection back.
	last := stateEv(5, 20, conn.TCPLastAck, conn.TCPClose, conn.OwnerListener, 1, conn.DirPassive)
	last.BytesSent, last.BytesReceived, last.BytesRetrans, last.PeerFin = 50, 101, 0, true
	s.Push(stateEv(5, 15, conn.TCPEstablished, conn.TCPCloseWait, conn.OwnerListener, 1, conn.DirPassive), emit)
	s.Push(last, emit)
	end := got[len(got)-1]
	if !end.NewlyDone || end.Conn.Owner.PID != 42 || end.Conn.TxBytes != 50 || end.Conn.RxBytes != 100 {
		t.Errorf("close: %+v", end)
	}
	if end.Conn.DurationNs(0) != 10 {
		t.Errorf("duration %d, want 10", end.Conn.DurationNs(0))
	}
}

func TestStreamReleasesNeverAcceptedAfterHold(t *testing.T) {
	tab := NewTable(TableConfig{})
	var got []conn.Transition
	s := NewStream(tab, 100)
	emit := func(tr *conn.Transition) { got = append(got, *tr) }
	s.Push(stateEv(9, 10, conn.TCPListen, conn.TCPSynRecv, conn.OwnerListener, 7, conn.DirPassive), emit)
	s.Flush(50, emit)
	if len(got) != 0 {
		t.Fatal("released before the hold time")
	}
	s.Flush(200, emit)
	if len(got) != 1 || got[0].Conn.Owner.PID != 7 || got[0].Conn.OwnerSource != conn.OwnerListener {
		t.Fatalf("never-accepted release: %+v", got)
	}
}

func TestTableKeepsTupleAfterUnhash(t *testing.T) {
	tab := NewTable(TableConfig{})
	tab.Apply(stateEv(3, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 9, conn.DirActive))
	e := stateEv(3, 20, conn.TCPFinWait2, conn.TCPClose, conn.OwnerConnect, 9, conn.DirActive)
	e.Local = netip.MustParseAddrPort("127.0.0.1:0") // tcp_done cleared the port
	tr, ok := tab.Apply(e)
	if !ok || tr.Conn.Local.Port() != 8080 || !tr.Conn.ViaTimeWait {
		t.Errorf("close kept %v, timewait %v", tr.Conn.Local, tr.Conn.ViaTimeWait)
	}
}

func TestTableBoundedWithEvictions(t *testing.T) {
	tab := NewTable(TableConfig{MaxConns: 4, TimeWaitNs: 1000})
	for i := uint64(1); i <= 10; i++ {
		tab.Apply(stateEv(i, i, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 1, conn.DirActive))
	}
	if tab.Len() > 4 || tab.Evictions != 6 {
		t.Errorf("len %d evictions %d", tab.Len(), tab.Evictions)
	}
	// Closed entries expire after TIME_WAIT.
	tab.Apply(stateEv(10, 20, conn.TCPSynSent, conn.TCPClose, conn.OwnerConnect, 1, conn.DirActive))
	if n := tab.Expire(2000); n != 1 {
		t.Errorf("expired %d, want 1", n)
	}
}

func TestTableSnapshotSeedsOlderConnections(t *testing.T) {
	tab := NewTable(TableConfig{})
	e := stateEv(4, 10, conn.TCPEstablished, conn.TCPFinWait1, conn.OwnerNone, 0, conn.DirUnknown)
	tab.SeedTuple(e.Local, e.Remote, conn.Process{PID: 77, Comm: "old"})
	tr, _ := tab.Apply(e)
	if tr.Conn.Owner.PID != 77 || tr.Conn.OwnerSource != conn.OwnerSnapshot {
		t.Errorf("seeded owner: %+v", tr.Conn)
	}
}

func TestTableDropClosedForgetsAtClose(t *testing.T) {
	tab := NewTable(TableConfig{DropClosed: true})
	tab.Apply(stateEv(1, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 1, conn.DirActive))
	tr, ok := tab.Apply(stateEv(1, 20, conn.TCPSynSent, conn.TCPClose, conn.OwnerConnect, 1, conn.DirActive))
	if !ok || !tr.NewlyDone || tr.Conn.Owner.PID != 1 || tab.Len() != 0 {
		t.Errorf("close: ok %v done %v, table len %d", ok, tr.NewlyDone, tab.Len())
	}
}

// endEv is the record of a socket freed with its -> CLOSE unseen: the
// kernel cleared its ports and error (tcp_disconnect) before the free.
func endEv(cookie, ts uint64, pid uint32) *tracer.Event {
	e := stateEv(cookie, ts, conn.TCPClose, conn.TCPClose, conn.OwnerConnect, pid, conn.DirActive)
	e.Kind = tracer.KindEnd
	e.Local = netip.MustParseAddrPort("0.0.0.0:41000")
	e.Remote = netip.MustParseAddrPort("127.0.0.1:0")
	e.StateNs = 0
	return e
}

// TestTableEndUnseen: a connection whose -> CLOSE no program saw ends at
// its socket's free, from the last state known, named "unseen", with the
// owner and the ports it was known by; one whose end was seen is not
// ended twice.
func TestTableEndUnseen(t *testing.T) {
	// trace: the connect was seen, its end was not.
	tab := NewTable(TableConfig{})
	syn := stateEv(1, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 7, conn.DirActive)
	syn.Local = netip.MustParseAddrPort("127.0.0.1:0") // before the kernel chose the port
	tab.Apply(syn)
	tr, ok := tab.Apply(endEv(1, 1010, 7))
	c := tr.Conn
	if !ok || !tr.NewlyDone || tr.OldState != conn.TCPSynSent || tr.NewState != conn.TCPClose || tr.InOldNs != 1000 {
		t.Fatalf("end: ok %v %+v", ok, tr)
	}
	if !c.Closed || !c.EndUnseen || c.Failure() != conn.FailUnseen || c.Owner.PID != 7 || c.ClosedFrom != conn.TCPSynSent ||
		c.Local != netip.MustParseAddrPort("127.0.0.1:41000") || c.Remote.Port() != 40000 || c.CloseNs != 1010 || c.BirthNs != 10 {
		t.Errorf("end unseen: %+v (failure %q)", c, c.Failure())
	}
	// life (ends only): the end record is all there is.
	tab = NewTable(TableConfig{DropClosed: true})
	e := endEv(2, 500, 8)
	e.BirthNs = 100
	tr, ok = tab.Apply(e)
	if !ok || !tr.NewlyDone || tr.Conn.Failure() != conn.FailUnseen || tr.Conn.Owner.PID != 8 || tr.Conn.BirthNs != 100 || tab.Len() != 0 ||
		tr.Conn.Local.Port() != 41000 || tr.Conn.Remote != netip.MustParseAddrPort("127.0.0.1:0") || tr.Conn.Direction != conn.DirActive {
		t.Errorf("life end unseen: ok %v %+v, len %d", ok, tr.Conn, tab.Len())
	}
	// The sweep's record of a socket that became a timewait one: its
	// whole tuple, and it closed into TIME_WAIT, where the table keeps it
	// for its timewait socket's owner.
	tab = NewTable(TableConfig{TimeWaitOnly: true})
	tab.Apply(stateEv(4, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 9, conn.DirActive))
	tab.Apply(stateEv(4, 20, conn.TCPSynSent, conn.TCPEstablished, conn.OwnerConnect, 9, conn.DirActive))
	tw := endEv(4, 900, 9)
	tw.OldState = conn.TCPTimeWait
	tw.Local, tw.Remote = netip.MustParseAddrPort("127.0.0.1:41000"), netip.MustParseAddrPort("127.0.0.1:40000")
	if tr, ok := tab.Apply(tw); !ok || !tr.NewlyDone || !tr.Conn.ViaTimeWait || tr.Conn.Failure() != conn.FailUnseen ||
		tr.Conn.ClosedFrom != conn.TCPEstablished || tr.Conn.Remote != tw.Remote || tab.Len() != 1 {
		t.Errorf("swept timewait end: ok %v %+v, len %d", ok, tr.Conn, tab.Len())
	}
	// An end that was seen is not ended again.
	tab = NewTable(TableConfig{})
	tab.Apply(stateEv(3, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 9, conn.DirActive))
	tab.Apply(stateEv(3, 20, conn.TCPSynSent, conn.TCPClose, conn.OwnerConnect, 9, conn.DirActive))
	if tr, ok := tab.Apply(endEv(3, 30, 9)); ok || tr.NewlyDone {
		t.Errorf("a seen end ended again: %+v", tr)
	}
}

// TestStreamEndUnseenReleasesConnect: a connect held for its port (its
// first line came before the kernel chose one) goes out at its unseen end,
// in order, and is not held until the stream's end.
func TestStreamEndUnseenReleasesConnect(t *testing.T) {
	tab := NewTable(TableConfig{})
	var got []conn.Transition
	s := NewStream(tab, 100)
	emit := func(tr *conn.Transition) { got = append(got, *tr) }
	syn := stateEv(5, 10, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 7, conn.DirActive)
	syn.Local = netip.MustParseAddrPort("192.0.2.1:0")
	s.Push(syn, emit)
	s.Flush(5000, emit)
	if len(got) != 0 {
		t.Fatalf("a connect without its port went out: %+v", got)
	}
	s.Push(endEv(5, 1010, 7), emit)
	if len(got) != 2 || got[0].NewState != conn.TCPSynSent || got[1].NewState != conn.TCPClose ||
		got[1].Conn.Failure() != conn.FailUnseen || got[1].Conn.Remote.Port() != 40000 || got[1].Conn.Owner.PID != 7 ||
		got[0].Conn.Local != netip.MustParseAddrPort("192.0.2.1:41000") || got[1].Conn.Local != got[0].Conn.Local {
		t.Fatalf("end unseen: %+v", got)
	}
}

// BenchmarkTableChurn applies the events of many short connections to a
// full table: the cost per event must not grow with the table.
func BenchmarkTableChurn(b *testing.B) {
	tab := NewTable(TableConfig{MaxConns: 65536})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := uint64(i + 1)
		ts := uint64(i) * 10
		tab.Apply(stateEv(c, ts+1, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 1, conn.DirActive))
		tab.Apply(stateEv(c, ts+2, conn.TCPSynSent, conn.TCPEstablished, conn.OwnerConnect, 1, conn.DirActive))
		tab.Apply(stateEv(c, ts+3, conn.TCPEstablished, conn.TCPFinWait1, conn.OwnerConnect, 1, conn.DirActive))
		tab.Apply(stateEv(c, ts+4, conn.TCPFinWait1, conn.TCPClose, conn.OwnerConnect, 1, conn.DirActive))
	}
}

func TestStreamKeepsOrderWhenClosedConnectionIsDropped(t *testing.T) {
	tab := NewTable(TableConfig{DropClosed: true})
	var got []conn.Transition
	s := NewStream(tab, 100)
	emit := func(tr *conn.Transition) { got = append(got, *tr) }
	s.Push(stateEv(9, 10, conn.TCPListen, conn.TCPSynRecv, conn.OwnerListener, 7, conn.DirPassive), emit)
	s.Push(stateEv(9, 11, conn.TCPSynRecv, conn.TCPEstablished, conn.OwnerListener, 7, conn.DirPassive), emit)
	s.Push(stateEv(9, 12, conn.TCPEstablished, conn.TCPCloseWait, conn.OwnerListener, 7, conn.DirPassive), emit)
	s.Push(stateEv(9, 13, conn.TCPCloseWait, conn.TCPClose, conn.OwnerListener, 7, conn.DirPassive), emit)
	if len(got) != 4 || s.Pending() != 0 {
		t.Fatalf("got %d transitions, %d pending", len(got), s.Pending())
	}
	for i, tr := range got {
		if tr.TimeNs != uint64(10+i) || tr.Conn.Owner.PID != 7 {
			t.Errorf("transition %d: time %d owner %d", i, tr.TimeNs, tr.Conn.Owner.PID)
		}
	}
}

// Two namespaces hold the same 4-tuple (each its own 127.0.0.1:8080):
// the look-up by namespace finds each one's owner, whichever came last,
// and forgets each alone.
func TestTableByTupleNS(t *testing.T) {
	tab := NewTable(TableConfig{})
	l, r := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	ev := func(cookie uint64, ns uint32, ts uint64, old, new conn.State, comm string) *tracer.Event {
		return &tracer.Event{Kind: tracer.KindState, TimeNs: ts, Cookie: cookie, Family: snapshot.FamilyInet, NetNS: ns,
			Local: l, Remote: r, OldState: old, NewState: new, OwnerSource: conn.OwnerConnect,
			Owner: conn.Process{PID: uint32(cookie), Comm: comm}, Direction: conn.DirActive}
	}
	tab.Apply(ev(1, 100, 1, conn.TCPClose, conn.TCPSynSent, "alpha"))
	tab.Apply(ev(2, 200, 2, conn.TCPClose, conn.TCPSynSent, "beta"))
	// The first namespace's connection moves on after the second's open.
	tab.Apply(ev(1, 100, 3, conn.TCPSynSent, conn.TCPEstablished, "alpha"))
	for _, tc := range []struct {
		ns   uint32
		want string
		ok   bool
	}{{100, "alpha", true}, {200, "beta", true}, {300, "", false}} {
		c, ok := tab.ByTupleNS(tc.ns, l, r)
		if ok != tc.ok || c.Owner.Comm != tc.want || ok && c.NetNS != tc.ns {
			t.Errorf("ByTupleNS(%d) = %q %v (netns %d), want %q %v", tc.ns, c.Owner.Comm, ok, c.NetNS, tc.want, tc.ok)
		}
	}
	// Both close into TIME_WAIT; the first expires first.
	tab.Apply(ev(1, 100, 4, conn.TCPFinWait1, conn.TCPClose, "alpha"))
	tab.Apply(ev(2, 200, 60e9+5, conn.TCPFinWait1, conn.TCPClose, "beta"))
	if n := tab.Expire(60e9 + 10); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if c, ok := tab.ByTupleNS(100, l, r); ok {
		t.Errorf("expired connection still found: %+v", c)
	}
	if c, ok := tab.ByTupleNS(200, l, r); !ok || c.Owner.Comm != "beta" {
		t.Errorf("ByTupleNS(200) after the other expired = %q %v", c.Owner.Comm, ok)
	}
	if len(tab.otherNS) != 0 {
		t.Errorf("otherNS keeps %d forgotten entries", len(tab.otherNS))
	}
}
