//go:build linux && (amd64 || arm64)

package tracer

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// sweepRig is a tracer in a namespace of the test's own, a sock_diag
// socket there and a plain TCP listener, for the sweep's tests.
type sweepRig struct {
	tr    *Tracer
	netns uint32
	diag  *snapshot.Diag
	ln    net.Listener
}

// newSweepRig opens the tracer with cfg (its NetNS set to the test's
// namespace unless allNetNS) and the rest; the test's end closes them.
func newSweepRig(t *testing.T, cfg Config, allNetNS bool) *sweepRig {
	t.Helper()
	requireBPF(t)
	r := &sweepRig{netns: privateNetNS(t)}
	if !allNetNS {
		cfg.NetNS = r.netns
	}
	tr, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	if tr.forgetProg == nil {
		t.Fatal("forget_kept did not load")
	}
	r.tr = tr
	r.diag, err = snapshot.OpenDiag() // in the test's namespace: its thread is locked there
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.diag.Close() })
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	r.ln, err = lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r
}

// dial makes a connection to the listener (plain TCP), both ends open.
func (r *sweepRig) dial(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	var d net.Dialer
	d.SetMultipathTCP(false)
	c, err := d.Dial("tcp4", r.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// closeInOrder closes first, then, once its FIN is in, second: first's
// socket becomes the timewait one.
func closeInOrder(first, second net.Conn) {
	first.Close()
	time.Sleep(30 * time.Millisecond)
	second.Close()
	time.Sleep(30 * time.Millisecond)
}

// TestSweep: the kernel cannot be made to hide a socket's end on purpose,
// so the test gives real sockets the state a hidden end leaves (a state
// kept after the socket's -> CLOSE) and holds Sweep to the rest: with the
// real programs, the real socket table (sock_diag) and the real
// forget_kept program, it reports a socket that became a timewait one
// with that socket's tuple and end time, a socket gone entirely without a
// tuple, each once, and drops their states; and it leaves alone the open
// connections and a state too young to judge.
func TestSweep(t *testing.T) {
	r := newSweepRig(t, Config{EndsOnly: true}, false)
	tr, netns, diag, ln := r.tr, r.netns, r.diag, r.ln
	dial := func() (client, server *net.TCPConn) { return r.dial(t) }
	// tw: its client closes first and becomes a timewait socket.
	twClient, twServer := dial()
	twCookie := socketCookie(t, twClient)
	twLocal := twClient.LocalAddr().(*net.TCPAddr).AddrPort()
	twClient.Close()
	time.Sleep(50 * time.Millisecond)
	twServer.Close()
	// gone: its server closes first; its client's socket is freed at its
	// LAST_ACK -> CLOSE.
	goneClient, goneServer := dial()
	goneCookie := socketCookie(t, goneClient)
	goneServer.Close()
	time.Sleep(50 * time.Millisecond)
	goneClient.Close()
	// open: still open, its states kept by the programs.
	openClient, openServer := dial()
	defer openClient.Close()
	defer openServer.Close()
	openCookie := socketCookie(t, openClient)
	time.Sleep(100 * time.Millisecond)

	// The states a hidden end leaves: tw's in its slot, gone's in the hash,
	// and young's, a gone socket born a moment ago.
	// The sweep runs as if 3 s later, so that it judges the real sockets
	// too (the listener and the open connection), which are younger.
	now := MonotonicNow() + uint64(3*time.Second)
	old := now - uint64(6*time.Second)
	pid := uint32(os.Getpid())
	state := func(cookie, birth uint64, src conn.OwnerSource) keptState {
		var s keptState
		s.Cookie = cookie
		s.Info.BirthNs = birth
		s.Info.StateNs = uint64(netns)
		s.Info.Pid, s.Info.Tid = pid, pid
		s.Info.OwnerSource = uint8(src)
		s.Info.Active = 1
		for i, c := range "sweeptest" {
			s.Info.Comm[i] = int8(c)
		}
		return s
	}
	held, _ := stateHeld(t, tr)
	if held[twCookie] || held[goneCookie] {
		t.Fatalf("states still kept after the sockets' -> CLOSE: %v", held)
	}
	slot := uint32(twCookie) & (tr.slots.MaxEntries() - 1)
	var inSlot keptState
	if err := tr.slots.Lookup(slot, &inSlot); err != nil || inSlot.Cookie != 0 {
		t.Fatalf("slot %d of the timewait socket's cookie is taken (%d, %v)", slot, inSlot.Cookie, err)
	}
	if err := tr.slots.Put(slot, state(twCookie, old, conn.OwnerConnect)); err != nil {
		t.Fatal(err)
	}
	youngCookie := goneCookie + 1<<40 // no socket has it
	for c, birth := range map[uint64]uint64{goneCookie: old, youngCookie: now - uint64(100*time.Millisecond)} {
		s := state(c, birth, conn.OwnerClose)
		if err := tr.states.Put(c, s.Info); err != nil {
			t.Fatal(err)
		}
	}

	// The first sweep reports the timewait socket; the gone one could
	// still be held by a process that will close it (its end hook would
	// report it then), so only the next sweep reports it.
	sweep := func(at uint64) map[uint64]Event {
		evs, err := tr.Sweep(at, diag.EachTCPEither, false)
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		got := map[uint64]Event{}
		for _, e := range evs {
			got[e.Cookie] = e
		}
		if len(got) != len(evs) {
			t.Errorf("a socket reported twice: %v", evs)
		}
		return got
	}
	got := sweep(now)
	if len(got) != 1 {
		t.Errorf("the first sweep reported %v, want the timewait socket %d only", got, twCookie)
	}
	if e, ok := got[twCookie]; !ok {
		t.Errorf("the timewait socket %d was not reported", twCookie)
	} else {
		// Its timer (in 10 ms steps) dates its start some 100 ms before
		// the sweep's time.
		if e.Kind != KindEnd || e.OldState != conn.TCPTimeWait || e.Local != twLocal || e.Remote.Port() != ln.Addr().(*net.TCPAddr).AddrPort().Port() ||
			e.Owner.PID != pid || e.Owner.Comm != "sweeptest" || e.OwnerSource != conn.OwnerConnect || e.Direction != conn.DirActive ||
			e.BirthNs != old || e.NetNS != netns || e.TimeNs > now-uint64(50*time.Millisecond) || e.TimeNs < now-uint64(time.Second) {
			t.Errorf("timewait socket's record %+v; want its tuple %v, owner %d (sweeptest, connect, active), birth %d, netns %d and an end 0.05 to 1 s before %d",
				e, twLocal, pid, old, netns, now)
		}
	}
	if slots, _ := stateHeld(t, tr); slots[twCookie] {
		t.Errorf("after the sweep, the timewait socket's state is still kept")
	}
	later := now + uint64(200*time.Millisecond)
	got = sweep(later)
	if len(got) != 1 {
		t.Errorf("the second sweep reported %v, want the gone socket %d only", got, goneCookie)
	}
	unknown := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if e, ok := got[goneCookie]; !ok {
		t.Errorf("the gone socket %d was not reported", goneCookie)
	} else if e.Kind != KindEnd || e.OldState != conn.TCPClose || e.Local != unknown || e.Remote != unknown || e.TimeNs != later ||
		e.Owner.PID != pid || e.OwnerSource != conn.OwnerClose {
		t.Errorf("gone socket's record %+v; want addresses %v, the sweep's time %d and owner %d (close)", e, unknown, later, pid)
	}
	slots, entries := stateHeld(t, tr)
	if slots[twCookie] || entries[goneCookie] {
		t.Errorf("after the sweep, slots %v and hash entries %v: the gone sockets' states are still kept", slots, entries)
	}
	if !entries[youngCookie] {
		t.Errorf("the young state %d was dropped: too young to judge", youngCookie)
	}
	if !slots[openCookie] && !entries[openCookie] {
		t.Errorf("the open connection's state %d is gone", openCookie)
	}
	if c, err := tr.Counters(); err != nil || c.EndUnseen != 2 {
		t.Errorf("ends unseen %d (%v), want the 2 swept", c.EndUnseen, err)
	}
	// Reported once; and the young state, still too young, stays.
	if got := sweep(later + uint64(100*time.Millisecond)); len(got) != 0 {
		t.Errorf("third sweep: %v; want nothing", got)
	}
	// A final sweep (the tracer stops) takes a gone socket 50 ms old, after
	// two dumps, without waiting for another round.
	evs, err := tr.Sweep(later+uint64(100*time.Millisecond), diag.EachTCPEither, true)
	if err != nil || len(evs) != 1 || evs[0].Cookie != youngCookie {
		t.Errorf("final sweep: %+v, %v; want the young gone socket %d", evs, err, youngCookie)
	}
	if slots, entries := stateHeld(t, tr); !slots[openCookie] && !entries[openCookie] || entries[youngCookie] {
		t.Errorf("after the final sweep, slots %v and hash entries %v; want the open connection's state %d and not the young one's %d",
			slots, entries, openCookie, youngCookie)
	}
}

// TestSweepYoungTimeWait: a state kept for a socket that is a timewait
// socket in the table is reported however young it is (the last
// connections before a tracer stops are), and the final sweep of trace
// and life reports it so: the timewait socket says its full socket is
// gone.
func TestSweepYoungTimeWait(t *testing.T) {
	r := newSweepRig(t, Config{EndsOnly: true}, false)
	tr, netns, diag := r.tr, r.netns, r.diag
	c, srv := r.dial(t)
	cookie := socketCookie(t, c)
	closeInOrder(c, srv)
	now := MonotonicNow()
	var tw keptState
	tw.Cookie = cookie
	tw.Info.BirthNs = now - uint64(10*time.Millisecond)
	tw.Info.StateNs = uint64(netns)
	if err := tr.slots.Put(uint32(cookie)&(tr.slots.MaxEntries()-1), tw); err != nil {
		t.Fatal(err)
	}
	evs, err := tr.Sweep(now, diag.EachTCPEither, false)
	if err != nil || len(evs) != 1 || evs[0].Cookie != cookie || evs[0].OldState != conn.TCPTimeWait {
		t.Errorf("sweep: %+v, %v; want the timewait socket %d, 10 ms old", evs, err, cookie)
	}
}

// TestSweepRoundAllNetNS: a tracer of every namespace keeps each socket's
// namespace with EndsOnly, and a round judges only the sockets of the
// namespaces walked: a timewait socket's state in the walked one is
// reported with that namespace, a gone socket's state said to be in a
// namespace not walked stays.
func TestSweepRoundAllNetNS(t *testing.T) {
	r := newSweepRig(t, Config{EndsOnly: true}, true)
	tr, netns, diag := r.tr, r.netns, r.diag
	c, srv := r.dial(t)
	cookie := socketCookie(t, c)
	lnCookie := socketCookie(t, r.ln.(*net.TCPListener))
	closeInOrder(c, srv)

	// The listener's own state, kept by the programs, says its namespace.
	if held, _ := stateHeld(t, tr); !held[lnCookie] {
		t.Fatalf("the listener's state is not kept")
	}
	var lnState keptState
	if err := tr.slots.Lookup(uint32(lnCookie)&(tr.slots.MaxEntries()-1), &lnState); err != nil || uint32(lnState.Info.StateNs) != netns {
		t.Errorf("the listener's kept namespace is %d (%v), want %d", lnState.Info.StateNs, err, netns)
	}

	now := MonotonicNow() + uint64(3*time.Second)
	var tw keptState
	tw.Cookie = cookie
	tw.Info.BirthNs = now - uint64(6*time.Second)
	tw.Info.StateNs = uint64(netns)
	tw.Info.Pid = uint32(os.Getpid())
	if err := tr.slots.Put(uint32(cookie)&(tr.slots.MaxEntries()-1), tw); err != nil {
		t.Fatal(err)
	}
	other := tw.Info
	other.StateNs = uint64(netns) + 1 // no namespace the round walks
	otherCookie := cookie + 1<<40
	if err := tr.states.Put(otherCookie, other); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		r, err := tr.BeginSweep(now + uint64(round))
		if err != nil || r == nil {
			t.Fatalf("BeginSweep: %v, %v", r, err)
		}
		if err := diag.EachTCPEither(r.Visit(netns)); err != nil {
			t.Fatal(err)
		}
		r.Walked(netns)
		evs, err := r.End(false)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case round == 0 && (len(evs) != 1 || evs[0].Cookie != cookie || evs[0].NetNS != netns || evs[0].OldState != conn.TCPTimeWait):
			t.Errorf("first round: %+v; want the timewait socket %d in namespace %d", evs, cookie, netns)
		case round == 1 && len(evs) != 0:
			t.Errorf("second round: %+v; want nothing", evs)
		}
	}
	if _, entries := stateHeld(t, tr); !entries[otherCookie] {
		t.Errorf("the state of a socket in a namespace not walked was dropped")
	}
}

// TestSweepAcceptor: with the acceptor kept for the close record (life),
// a server socket whose close no program saw is reported with its
// acceptor, which forget_kept takes from its entry and frees, as the
// close would have; not with the listener's owner its state had.
func TestSweepAcceptor(t *testing.T) {
	r := newSweepRig(t, Config{EndsOnly: true, AcceptInClose: true}, false)
	tr, netns, diag := r.tr, r.netns, r.diag
	c, srv := r.dial(t)
	cookie := socketCookie(t, srv)
	local := srv.LocalAddr().(*net.TCPAddr).AddrPort()
	// The server closes first: its socket becomes the timewait one.
	closeInOrder(srv, c)

	now := MonotonicNow()
	pid, accKey := plantHiddenServerClose(t, tr, cookie, netns)
	evs, err := tr.Sweep(now, diag.EachTCPEither, false)
	if err != nil || len(evs) != 1 {
		t.Fatalf("sweep: %+v, %v; want the server socket %d", evs, err, cookie)
	}
	e := evs[0]
	if e.Cookie != cookie || e.Owner.PID != pid || e.Owner.Comm != "acceptor" || e.OwnerSource != conn.OwnerAccept ||
		e.Direction != conn.DirPassive || e.Local != local {
		t.Errorf("record %+v; want socket %d at %v owned by its acceptor %d (accept, passive)", e, cookie, local, pid)
	}
	var acc tracerAccSlot
	if err := tr.accSlots.Lookup(accKey, &acc); err != nil || acc.Cookie != 0 || acc.Ready != 0 {
		t.Errorf("the acceptor's entry is still held: %+v (%v)", acc, err)
	}
}

// TestEndAcceptor: the end hook's record of a server socket whose close
// no program saw names its acceptor, taken from its entry, as the close
// record would have. A socket reset by its peer is in CLOSE while its
// process still holds it: the test gives it the state a hidden close
// leaves, then closes it, and the real end hook runs at its free.
func TestEndAcceptor(t *testing.T) {
	r := newSweepRig(t, Config{EndsOnly: true, AcceptInClose: true}, false)
	tr := r.tr
	c, s := r.dial(t)
	cookie := socketCookie(t, s)
	c.SetLinger(0)
	c.Close() // a reset: the server socket goes to CLOSE, still open
	time.Sleep(50 * time.Millisecond)

	pid, accKey := plantHiddenServerClose(t, tr, cookie, r.netns)
	s.Close()

	var end *Event
	stop := make(chan struct{})
	deadline := time.AfterFunc(5*time.Second, func() { close(stop); tr.Flush() })
	defer deadline.Stop()
	err := tr.Run(stop, 10*time.Millisecond, nil, func(evs []Event) {
		for i := range evs {
			if evs[i].Kind == KindEnd && evs[i].Cookie == cookie && end == nil {
				end = &evs[i]
				deadline.Stop()
				close(stop)
				tr.Flush()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if end == nil {
		t.Fatalf("no end record for socket %d", cookie)
	}
	if end.Owner.PID != pid || end.OwnerSource != conn.OwnerAccept || end.Direction != conn.DirPassive {
		t.Errorf("end record %+v; want its acceptor %d (accept, passive)", *end, pid)
	}
	var acc tracerAccSlot
	if err := tr.accSlots.Lookup(accKey, &acc); err != nil || acc.Cookie != 0 || acc.Ready != 0 {
		t.Errorf("the acceptor's entry is still held: %+v (%v)", acc, err)
	}
}

// plantHiddenServerClose gives a server socket what a close no program saw
// leaves under life's acceptor hand-over (accept.h): its kept state still
// with the listener's owner (pid 1), and its acceptor (this process, named
// "acceptor") published in its acc_slots entry, whose key it returns.
func plantHiddenServerClose(t *testing.T, tr *Tracer, cookie uint64, netns uint32) (pid, accKey uint32) {
	t.Helper()
	var st keptState
	st.Cookie = cookie
	st.Info.BirthNs = MonotonicNow() - uint64(time.Second)
	st.Info.StateNs = uint64(netns)
	st.Info.Pid, st.Info.Tid = 1, 1
	st.Info.OwnerSource = uint8(conn.OwnerListener)
	if err := tr.slots.Put(uint32(cookie)&(tr.slots.MaxEntries()-1), st); err != nil {
		t.Fatal(err)
	}
	var acc tracerAccSlot
	acc.Cookie, acc.Ready = cookie, cookie
	pid = uint32(os.Getpid())
	acc.Owner.Pid, acc.Owner.Tid, acc.Owner.OwnerSource = pid, pid, uint8(conn.OwnerAccept)
	for i, ch := range "acceptor" {
		acc.Owner.Comm[i] = int8(ch)
	}
	accKey = uint32(cookie) & (tr.accSlots.MaxEntries() - 1)
	if err := tr.accSlots.Put(accKey, acc); err != nil {
		t.Fatal(err)
	}
	return pid, accKey
}
