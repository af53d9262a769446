package merged

import (
	"net/netip"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// TestLossWatch: the first loss is reported at once, later ones at most
// once per interval, each window starts where the last reading without
// new loss was, and the reports add up to the counters.
func TestLossWatch(t *testing.T) {
	const s = uint64(1e9)
	w := NewLossWatch(100*s, 5*s)
	var sum Loss
	take := func(r LossReport) {
		sum.RingFull += r.RingFull
		sum.TableEvictions += r.TableEvictions
		sum.UserSpace += r.UserSpace
	}
	if _, ok := w.Check(101*s, Loss{}); ok {
		t.Fatal("a report without loss")
	}
	if _, ok := w.Check(102*s, Loss{}); ok {
		t.Fatal("a report without loss")
	}
	r, ok := w.Check(103*s, Loss{RingFull: 10})
	if !ok || r.FromNs != 102*s || r.ToNs != 103*s || r.RingFull != 10 || r.Total() != 10 {
		t.Fatalf("first loss: %+v %v, want 10 ring buffer full in (102s, 103s]", r, ok)
	}
	take(r)
	// More loss within the interval waits, then goes out whole.
	if _, ok := w.Check(104*s, Loss{RingFull: 25}); ok {
		t.Fatal("a second report within the interval")
	}
	if _, ok := w.Check(107*s, Loss{RingFull: 30, TableEvictions: 2}); ok {
		t.Fatal("a second report within the interval")
	}
	r, ok = w.Check(108*s, Loss{RingFull: 31, TableEvictions: 2})
	if !ok || r.FromNs != 103*s || r.ToNs != 108*s || r.RingFull != 21 || r.TableEvictions != 2 {
		t.Fatalf("second report: %+v %v, want 21 + 2 in (103s, 108s]", r, ok)
	}
	take(r)
	// Quiet, then a loss long after: a window of one reading.
	w.Check(120*s, Loss{RingFull: 31, TableEvictions: 2})
	r, ok = w.Check(121*s, Loss{RingFull: 31, TableEvictions: 2, UserSpace: 1})
	if !ok || r.FromNs != 120*s || r.Total() != 1 {
		t.Fatalf("later loss: %+v %v", r, ok)
	}
	take(r)
	// What is left at the end.
	if _, ok := w.Final(122*s, Loss{RingFull: 31, TableEvictions: 2, UserSpace: 1}); ok {
		t.Fatal("a final report without new loss")
	}
	w.Check(123*s, Loss{RingFull: 40, TableEvictions: 2, UserSpace: 1}) // within the interval: held
	r, ok = w.Final(124*s, Loss{RingFull: 41, TableEvictions: 2, UserSpace: 1})
	if !ok || r.RingFull != 10 || r.FromNs != 122*s {
		t.Fatalf("final: %+v %v", r, ok)
	}
	take(r)
	if want := (Loss{RingFull: 41, TableEvictions: 2, UserSpace: 1}); sum != want {
		t.Errorf("reports add up to %+v, want %+v", sum, want)
	}
	if got := LossOf(tracer.Counters{RingFull: 1, StorageFail: 2, AcceptMiss: 3, RecursionLost: 4}, 5, 6); got != (Loss{1, 2, 3, 4, 5, 6}) || got.Total() != 21 {
		t.Errorf("LossOf: %+v", got)
	}
}

// TestStreamNoAcceptDoesNotHold: without an accept hook a server
// connection's transitions go out at once, with the listener's owner.
func TestStreamNoAcceptDoesNotHold(t *testing.T) {
	tab := NewTable(TableConfig{})
	var got []conn.Transition
	s := NewStream(tab, 100)
	s.NoAccept = true
	emit := func(tr *conn.Transition) { got = append(got, *tr) }
	s.Push(stateEv(5, 10, conn.TCPListen, conn.TCPSynRecv, conn.OwnerListener, 1, conn.DirPassive), emit)
	s.Push(stateEv(5, 11, conn.TCPSynRecv, conn.TCPEstablished, conn.OwnerListener, 1, conn.DirPassive), emit)
	if len(got) != 2 || s.Pending() != 0 || got[1].Conn.OwnerSource != conn.OwnerListener || got[1].Conn.Owner.PID != 1 {
		t.Fatalf("got %+v, %d pending; want both transitions at once with the listener's owner", got, s.Pending())
	}
	// A connect still waits for its port.
	c := stateEv(6, 12, conn.TCPClose, conn.TCPSynSent, conn.OwnerConnect, 2, conn.DirActive)
	c.Local = netip.MustParseAddrPort("127.0.0.1:0")
	s.Push(c, emit)
	if len(got) != 2 || s.Pending() != 1 {
		t.Errorf("a connect without its port went out: %d lines, %d pending", len(got), s.Pending())
	}
}
