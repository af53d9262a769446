//go:build linux && (amd64 || arm64)

package tracer

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// TestStateOverflow: with the per-socket state's array made one slot and
// its hash two entries, the sockets that find both taken keep their state
// in socket storage, and every connection's close records still carry its
// birth and its owner, with nothing counted lost; the slot and the entries
// are given back at the sockets' close. Real sockets on loopback, the real
// programs.
func TestStateOverflow(t *testing.T) {
	requireBPF(t)
	// In a namespace of its own, the test's sockets are the only ones
	// traced: the listener, made first, takes the slot.
	netns := privateNetNS(t)
	tr, err := Open(Config{NetNS: netns, EndsOnly: true, slots: 1, hashEntries: 2})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer tr.Close()

	// Plain TCP: Go listens with MPTCP where the kernel has it, and
	// SO_COOKIE would give the MPTCP socket's cookie, not its listening
	// TCP subflow's.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	lnCookie := socketCookie(t, ln.(*net.TCPListener))
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
	// 2n + 1 sockets alive: the listener holds the slot, and the hash's
	// two entries are taken.
	if slot, entries := stateHeld(t, tr); len(slot) != 1 || !slot[lnCookie] || len(entries) != 2 {
		t.Errorf("with %d sockets open, slots %v (the listener is %d) and %d hash entries held, want the listener's and 2",
			2*n+1, slot, lnCookie, len(entries))
	}
	for _, s := range socks {
		s.Close()
	}
	ln.Close()

	pid := uint32(os.Getpid())
	closes := map[conn.Direction][]Event{}
	for _, e := range readCloses(t, tr, 2*n, func(e *Event) bool {
		return e.OldState != conn.TCPListen && (e.Local.Port() == port || e.Remote.Port() == port)
	}) {
		closes[e.Direction] = append(closes[e.Direction], e)
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
	checkRecovered(t, tr)
	// Every socket's -> CLOSE was seen, whichever of the slot, the hash
	// and socket storage kept its state: the end hook, which ran at each
	// socket's free, must have found none of them still kept.
	time.Sleep(200 * time.Millisecond)
	if c, err := tr.Counters(); err != nil || c.EndUnseen != 0 {
		t.Errorf("%d ends unseen (%v), want 0: a kept state outlived its -> CLOSE", c.EndUnseen, err)
	}
	// Closed, the sockets gave the slot and the entries back.
	if slot, entries := stateHeld(t, tr); len(slot) != 0 || len(entries) != 0 {
		t.Errorf("every socket closed, slots %v and hash entries %v still held (the listener is %d)", slot, entries, lnCookie)
	}
}

// privateNetNS moves the test's thread, for the rest of the test, to a
// new network namespace with its loopback up, and gives its inode. The
// thread is never unlocked: it ends with the test.
func privateNetNS(t *testing.T) uint32 {
	t.Helper()
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		t.Fatalf("setting lo up: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

// socketCookie gives a socket's cookie (SO_COOKIE).
func socketCookie(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cookie uint64
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return cookie
}

// stateHeld gives the cookies of the sockets whose state is in the array's
// slots and in the hash.
func stateHeld(t *testing.T, tr *Tracer) (slots, entries map[uint64]bool) {
	t.Helper()
	slots, entries = map[uint64]bool{}, map[uint64]bool{}
	var i uint32
	var slot []byte // struct sk_slot: the cookie first
	it := tr.slots.Iterate()
	for it.Next(&i, &slot) {
		if c := binary.NativeEndian.Uint64(slot); c != 0 {
			slots[c] = true
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	var cookie uint64
	var v []byte
	it = tr.states.Iterate()
	for it.Next(&cookie, &v) {
		entries[cookie] = true
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return slots, entries
}

// checkRecovered holds the nested-event catchers to what they are for: a
// catcher takes only events the kernel skipped the first state program
// for, so it can never have recovered more than that program's recursion
// misses. A catcher that took events the first program had handled (one
// of the two not doing the bookkeeping for some transition) would count
// them recovered, and the loss, misses less recoveries, would hide real
// misses.
func checkRecovered(t *testing.T, tr *Tracer) {
	t.Helper()
	c, err := tr.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var misses uint64
	for _, p := range tr.progs {
		if p.loss != lossRecovered {
			continue
		}
		st, err := p.prog.Stats()
		if err != nil {
			t.Fatal(err)
		}
		misses += st.RecursionMisses
	}
	if c.Recovered > misses {
		t.Errorf("the catchers recovered %d events; the first state program was skipped for only %d", c.Recovered, misses)
	}
}

// TestListenerOwnerCount: a listener older than the tracer shares its port
// (SO_REUSEPORT) with one the tracer saw start; when the old one closes,
// the new one's children, never accepted, must still carry its owner
// ("listener"). The old listener was never counted, so its close must not
// take the new one's count: that used to drop the port's owner.
func TestListenerOwnerCount(t *testing.T) {
	requireBPF(t)
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	old, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := old.Addr().String()
	port := uint16(old.Addr().(*net.TCPAddr).Port)

	tr, err := Open(Config{EndsOnly: true})
	if err != nil {
		old.Close()
		t.Fatalf("Open: %v", err)
	}
	defer tr.Close()
	ln, err := lc.Listen(context.Background(), "tcp4", addr)
	if err != nil {
		old.Close()
		t.Fatal(err)
	}
	old.Close()
	// Connections the listener never accepts: they wait in its queue and
	// are reset when it closes.
	const n = 4
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	time.Sleep(50 * time.Millisecond) // the handshakes complete in softirq
	ln.Close()
	for _, c := range clients {
		c.Close()
	}

	pid := uint32(os.Getpid())
	servers := readCloses(t, tr, n, func(e *Event) bool {
		return e.Direction == conn.DirPassive && e.Local.Port() == port
	})
	if len(servers) != n {
		t.Fatalf("%d server close records, want %d", len(servers), n)
	}
	for _, e := range servers {
		if e.Owner.PID != pid || e.OwnerSource != conn.OwnerListener {
			t.Errorf("never-accepted server connection %v: owner %d (%s), want %d (listener)", e.Remote, e.Owner.PID, e.OwnerSource, pid)
		}
	}
}

// readCloses reads the tracer's events until n -> CLOSE records that keep
// accepts have come, or 10 s have passed, and returns those records.
func readCloses(t *testing.T, tr *Tracer, n int, keep func(*Event) bool) []Event {
	t.Helper()
	var got []Event
	stop := make(chan struct{})
	deadline := time.AfterFunc(10*time.Second, func() { close(stop); tr.Flush() })
	defer deadline.Stop()
	done := false
	err := tr.Run(stop, 10*time.Millisecond, nil, func(evs []Event) {
		for i := range evs {
			if e := &evs[i]; e.Kind == KindState && e.NewState == conn.TCPClose && keep(e) {
				got = append(got, *e)
			}
		}
		if !done && len(got) >= n {
			done = true
			deadline.Stop()
			close(stop)
			tr.Flush()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got
}
