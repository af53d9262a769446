package tracer

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// TestStateOverflow: with the per-socket state hash made far too small,
// the sockets that find it full keep their state in socket storage, and
// every connection's close records still carry its birth and its owner,
// with nothing counted lost. Real sockets on loopback, the real programs.
func TestStateOverflow(t *testing.T) {
	requireBPF(t)
	tr, err := Open(Config{EndsOnly: true, stateSlots: 2})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer tr.Close()

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// Every socket stays open until all are: 2n + 1 sockets live at once
	// in a hash of 2.
	const n = 8
	var socks []net.Conn
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, c, s)
	}
	for _, s := range socks {
		s.Close()
	}
	ln.Close()

	pid := uint32(os.Getpid())
	closes := map[conn.Direction][]Event{}
	stop := make(chan struct{})
	deadline := time.AfterFunc(10*time.Second, func() { close(stop); tr.Flush() })
	defer deadline.Stop()
	done := false
	err = tr.Run(stop, 10*time.Millisecond, nil, func(evs []Event) {
		for _, e := range evs {
			if e.Kind != KindState || e.NewState != conn.TCPClose || e.OldState == conn.TCPListen ||
				(e.Local.Port() != port && e.Remote.Port() != port) {
				continue
			}
			closes[e.Direction] = append(closes[e.Direction], e)
		}
		if !done && len(closes[conn.DirActive])+len(closes[conn.DirPassive]) == 2*n {
			done = true
			deadline.Stop()
			close(stop)
			tr.Flush()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for dir, src := range map[conn.Direction]conn.OwnerSource{conn.DirActive: conn.OwnerConnect, conn.DirPassive: conn.OwnerListener} {
		if len(closes[dir]) != n {
			t.Errorf("%d %s close records, want %d", len(closes[dir]), dir, n)
		}
		for _, e := range closes[dir] {
			if e.Owner.PID != pid || e.OwnerSource != src || e.BirthNs == 0 || e.BirthNs > e.TimeNs {
				t.Errorf("%s close record: owner %d (%s), birth %d at %d; want owner %d (%s) and a birth before the close",
					dir, e.Owner.PID, e.OwnerSource, e.BirthNs, e.TimeNs, pid, src)
			}
		}
	}
	c, err := tr.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.StorageFail != 0 || c.RingFull != 0 || c.RecursionLost != 0 {
		t.Errorf("counters %+v, want no loss", c)
	}
}
