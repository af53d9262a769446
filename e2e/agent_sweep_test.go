package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestAgentSweep: the agent, watching every namespace, sweeps the tracer's
// kept states with each snapshot walk and writes the end no program saw
// to its audit log, with the owner the state kept, the timewait socket's
// tuple and the namespace the state holds. The kernel cannot be made to
// hide an end on purpose, so the test gives the real agent's real slot
// array the state a hidden end leaves, for a real timewait socket in a
// namespace of the test's; the agent's snapshot, its round and its audit
// log are the product's own.
func TestAgentSweep(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	ns := trNewNetns(t)
	dir := t.TempDir()
	// It ends before the agent starts, as a hidden end would leave the
	// agent without its close.
	tw := sweptTimeWait(t, ns)
	a := agStart(t, b.ours, nil, dir)
	slots := agentMap(t, a.cmd.Process.Pid, "sk_slots")
	defer slots.Close()
	key := tw.plant(t, slots)
	// Snapshots every 300 ms; the state dropped means a round took it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var held []byte
		if err := slots.Lookup(key, &held); err != nil {
			t.Fatal(err)
		}
		if binary.NativeEndian.Uint64(held) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's sweep did not drop the state of cookie %d in 10 s\nstderr:\n%s", tw.cookie, a.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop(t)

	var found int
	for _, l := range readAuditLines(t, a.log) {
		if l.Cookie != tw.cookie || l.Error != "unseen" {
			continue
		}
		found++
		tw.check(t, "audit record", fmt.Sprintf("%+v", l), int(l.PID), l.Comm, l.OwnerSource, l.Direction, l.LAddr, int(l.LPort), l.RAddr, int(l.RPort), uint64(l.NetNS))
	}
	if found != 1 {
		t.Errorf("%d unseen records for cookie %d in the audit log, want 1\nstderr:\n%s", found, tw.cookie, a.stderr)
	}
	if strings.Contains(a.stderr.String(), "sweeping") {
		t.Errorf("the sweep failed:\n%s", a.stderr)
	}
}

// TestLifeAllNamespacesSweep: life --all-namespaces sweeps the kept states
// of every namespace (as the agent walks them), here at its stop, and
// prints the end no program saw, as TestAgentSweep checks the agent's.
func TestLifeAllNamespacesSweep(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	ns := trNewNetns(t)
	tw := sweptTimeWait(t, ns)
	life := trStartTracer(t, []string{"env"}, b.ours, "life", "--json", "--all-namespaces")
	slots := agentMap(t, life.cmd.Process.Pid, "sk_slots")
	defer slots.Close()
	tw.plant(t, slots)
	life.stop(t, syscall.SIGINT) // the final sweep
	var found int
	for _, r := range trParseLines[trLifeRow](t, life.stdoutPath, trLifeFields) {
		if r.Cookie != tw.cookie {
			continue
		}
		found++
		if r.Error != "unseen" {
			t.Errorf("life row %s: error %q, want unseen", r.raw, r.Error)
		}
		tw.check(t, "life row", r.raw, r.PID, r.Comm, r.OwnerSource, r.Direction, r.LAddr, r.LPort, r.RAddr, r.RPort, r.NetNS)
	}
	if found != 1 {
		t.Errorf("%d life rows for cookie %d, want 1\nstderr:\n%s", found, tw.cookie, life.stderrText())
	}
	if strings.Contains(life.stderrText(), "sweeping") {
		t.Errorf("the sweep failed:\n%s", life.stderrText())
	}
}

// sweptTW is a real timewait socket in a test namespace, for a sweep to
// find: the tracer under test is given the state a hidden end leaves for
// it (plant), since the kernel cannot be made to hide an end on purpose.
type sweptTW struct {
	cookie        uint64
	local, remote netip.AddrPort
	netns         uint32
}

// sweptPID and sweptComm are the owner the planted state names.
const (
	sweptPID  = 424242
	sweptComm = "swepttest"
)

// sweptTimeWait makes, in ns, a connection whose client closes first: its
// socket becomes a timewait socket with the client's cookie.
func sweptTimeWait(t *testing.T, ns *trNetns) sweptTW {
	t.Helper()
	tw := sweptTW{netns: uint32(ns.inode(t))}
	err := isInNetns(ns.name, func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			return err
		}
		s, err := l.Accept()
		if err != nil {
			return err
		}
		raw, _ := c.(*net.TCPConn).SyscallConn()
		raw.Control(func(fd uintptr) { tw.cookie, _ = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) })
		tw.local, tw.remote = c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
		c.Close()
		time.Sleep(50 * time.Millisecond)
		s.Close()
		return nil
	})
	if err != nil || tw.cookie == 0 {
		t.Fatalf("connection in %s: %v (cookie %d)", ns.name, err, tw.cookie)
	}
	return tw
}

// plant writes the socket's kept state into its free slot of the tracer's
// sk_slots, as its connect would have with ends_only, and returns the
// slot's key.
func (tw sweptTW) plant(t *testing.T, slots *ebpf.Map) uint32 {
	t.Helper()
	// struct sk_slot (bpf/maps.h): the cookie, then struct sk_info.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	v := make([]byte, 64)
	ne := binary.NativeEndian
	ne.PutUint64(v[0:], tw.cookie)
	ne.PutUint64(v[8:], uint64(ts.Nano())-uint64(time.Second)) // birth
	ne.PutUint64(v[16:], uint64(tw.netns))                     // the namespace, with ends_only
	ne.PutUint32(v[24:], sweptPID)
	ne.PutUint32(v[28:], sweptPID)
	v[36] = 1 // owner_source: connect
	v[37] = 1 // active
	copy(v[40:56], sweptComm)
	key := uint32(tw.cookie) & (slots.MaxEntries() - 1)
	var held []byte
	if err := slots.Lookup(key, &held); err != nil || ne.Uint64(held) != 0 {
		t.Fatalf("slot %d of cookie %d: %x (%v), want it free", key, tw.cookie, held, err)
	}
	if err := slots.Put(key, v); err != nil {
		t.Fatal(err)
	}
	return key
}

// check wants a record of the swept end with the planted owner, the
// timewait socket's tuple and its namespace.
func (tw sweptTW) check(t *testing.T, what, rec string, pid int, comm, source, dir, laddr string, lport int, raddr string, rport int, netns uint64) {
	t.Helper()
	if pid != sweptPID || comm != sweptComm || source != "connect" || dir != "active" ||
		laddr != tw.local.Addr().String() || lport != int(tw.local.Port()) || raddr != tw.remote.Addr().String() || rport != int(tw.remote.Port()) ||
		netns != uint64(tw.netns) {
		t.Errorf("%s %s; want pid %d %s (connect, active), %v -> %v, netns %d", what, rec, sweptPID, sweptComm, tw.local, tw.remote, tw.netns)
	}
}

// agentMap opens the BPF map named name among those the process holds
// (its fdinfo's map_id), so that a test finds its own agent's maps while
// other tracers run.
func agentMap(t *testing.T, pid int, name string) *ebpf.Map {
	t.Helper()
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fds {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			var id uint32
			if _, err := fmt.Sscanf(line, "map_id:\t%d", &id); err != nil {
				continue
			}
			m, err := ebpf.NewMapFromID(ebpf.MapID(id))
			if err != nil {
				continue
			}
			if info, err := m.Info(); err == nil && info.Name == name {
				return m
			}
			m.Close()
		}
	}
	t.Fatalf("process %d holds no BPF map %s", pid, name)
	return nil
}
