package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
	netns := uint32(ns.inode(t))
	dir := t.TempDir()

	// A connection whose client closes first: its socket becomes a
	// timewait socket with the client's cookie. It ends before the agent
	// starts, as a hidden end would leave the agent without its close.
	var cookie uint64
	var local, remote netip.AddrPort
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
		raw.Control(func(fd uintptr) { cookie, _ = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) })
		local, remote = c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
		c.Close()
		time.Sleep(50 * time.Millisecond)
		s.Close()
		return nil
	})
	if err != nil || cookie == 0 {
		t.Fatalf("connection in %s: %v (cookie %d)", ns.name, err, cookie)
	}
	a := agStart(t, b.ours, nil, dir)
	slots := agentMap(t, a.cmd.Process.Pid, "sk_slots")
	defer slots.Close()
	// struct sk_slot (bpf/maps.h): the cookie, then struct sk_info.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	const pid = 424242
	v := make([]byte, 64)
	ne := binary.NativeEndian
	ne.PutUint64(v[0:], cookie)
	ne.PutUint64(v[8:], uint64(ts.Nano())-uint64(time.Second)) // birth
	ne.PutUint64(v[16:], uint64(netns))                        // the namespace, with ends_only
	ne.PutUint32(v[24:], pid)
	ne.PutUint32(v[28:], pid)
	v[36] = 1 // owner_source: connect
	v[37] = 1 // active
	copy(v[40:56], "swepttest")
	key := uint32(cookie) & (slots.MaxEntries() - 1)
	var held []byte
	if err := slots.Lookup(key, &held); err != nil || ne.Uint64(held) != 0 {
		t.Fatalf("slot %d of cookie %d: %x (%v), want it free", key, cookie, held, err)
	}
	if err := slots.Put(key, v); err != nil {
		t.Fatal(err)
	}
	// Snapshots every 300 ms; the state dropped means a round took it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := slots.Lookup(key, &held); err != nil {
			t.Fatal(err)
		}
		if ne.Uint64(held) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's sweep did not drop the state of cookie %d in 10 s\nstderr:\n%s", cookie, a.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop(t)

	var found int
	for _, l := range readAuditLines(t, a.log) {
		if l.Cookie != cookie || l.Error != "unseen" {
			continue
		}
		found++
		if l.PID != pid || l.Comm != "swepttest" || l.OwnerSource != "connect" || l.Direction != "active" ||
			l.LAddr != local.Addr().String() || l.LPort != local.Port() || l.RAddr != remote.Addr().String() || l.RPort != remote.Port() ||
			l.NetNS != netns {
			t.Errorf("audit record %+v; want pid %d swepttest (connect, active), %v -> %v, netns %d", l, pid, local, remote, netns)
		}
	}
	if found != 1 {
		t.Errorf("%d unseen records for cookie %d in the audit log, want 1\nstderr:\n%s", found, cookie, a.stderr)
	}
	if strings.Contains(a.stderr.String(), "sweeping") {
		t.Errorf("the sweep failed:\n%s", a.stderr)
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
