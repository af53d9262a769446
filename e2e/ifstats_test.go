package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The interface table (-i) and statistics (-s) views, compared in a
// namespace that has seen traffic: ICMP, UDP (with fragments and
// unreachable ports), UDP-Lite, TCP and IPv6 on loopback, and TCP, UDP and
// ICMP across two veth pairs whose other ends live in a second namespace.
// The traffic is over before the first comparison and the namespaces are
// quiet (IPv6 is off on every link but lo), so counters stay put and no
// output line needs masking.

// isCases are compared with compareRuns. Each string is argv[1:] split at
// blanks.
var isCases = []string{
	// interfaces
	"-i",
	"-ia",
	"-ie",
	"-iee",
	"-iea",
	"-ieea",
	"-in",
	"-iN",
	"-iW",
	"-iv",
	"-ian",
	"-ieW",
	"-i -e -a -n -N -v -W",
	"--interfaces",
	"--interfaces --all --extend",
	"-i -A inet6",
	"-i -6",
	"-i -tu",
	"-ip",
	"-il",
	"-ii",
	"-is",
	"-i -r",
	"-i -M",
	// statistics
	"-s",
	"-st",
	"-su",
	"-sw",
	"-sU",
	"-sS",
	"-s6",
	"-s4",
	"-st6",
	"-su -6",
	"-sw6",
	"-sU6",
	"-stu",
	"-stuw",
	"-stuwU",
	"-s -A inet",
	"-s --inet6",
	"-s -A inet6 -t",
	"-s --inet",
	"-s -Aip6",
	"-s -A tcpip",
	"-sn",
	"-se",
	"-sa",
	"-sl",
	"-sp",
	"-so",
	"-sW",
	"-sv",
	"-sc",
	"-s -c -6",
	"--statistics --tcp",
	"-s --raw",
	// statistics: errors
	"-s -A inet,inet6",
	"-s -4 -6",
	"-s -x",
	"-s --unix",
	"-s -A ipx",
	"-s -A unix,inet",
	"-s -A bogus",
	"-ss",
}

// isContinuousCases run under timeout: the title once, the rows every round.
var isContinuousCases = []string{"-ic", "-iec", "-iac", "-inc"}

// TestIfStats compares -i and -s in a namespace after traffic.
func TestIfStats(t *testing.T) {
	requireRoot(t)
	var peers isPeers
	t.Cleanup(peers.remove)
	s := newScenario(t, scenarioOpts{setup: peers.setup})
	ns := s.ns.name
	if err := isTraffic(ns, peers.name(ns)); err != nil {
		t.Fatalf("making traffic: %v", err)
	}
	if err := isSettle(ns, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := isCheckTraffic(ns); err != nil {
		t.Fatal(err)
	}
	for _, c := range isCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) { compareRuns(t, s, inv) })
	}
	for _, c := range isContinuousCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) {
			t.Parallel()
			compareContinuous(t, s, inv)
		})
	}
}

// isPeers remembers the peer namespaces setup made, for removal.
type isPeers struct {
	mu    sync.Mutex
	names []string
}

func (p *isPeers) name(ns string) string { return ns + "-peer" }

func (p *isPeers) remove() {
	if os.Getenv(envKeep) == "1" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.names {
		(&netns{name: n}).close()
	}
	p.names = nil
}

// setup gives namespace ns (the one compared) these links:
//
//	v0 (+ labels v0:1, v0:lbl)  veth to v1 in the peer namespace
//	averylongifnam0             veth to p1 in the peer namespace (15 bytes:
//	                            netstat shows its counters as zero)
//	tun7                        tun, point-to-point, no carrier
//	dn0, dn1                    veth pair, down (promisc; allmulti, noarp)
//	n1, n01, n10, n2            veth pairs named for the natural sort
//
// IPv6 is off on all of them: no neighbour discovery or MLD moves counters.
// lo has the suite's IPv4 and IPv6 addresses.
func (p *isPeers) setup(ns string) error {
	peer := p.name(ns)
	if err := ip("netns", "add", peer); err != nil {
		return err
	}
	p.mu.Lock()
	p.names = append(p.names, peer)
	p.mu.Unlock()
	steps := [][]string{
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"netns", "exec", peer, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"-n", peer, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "v0", "address", "02:00:00:00:00:50", "type", "veth", "peer", "name", "v1", "netns", peer},
		{"-n", ns, "link", "add", "averylongifnam0", "address", "02:00:00:00:00:60", "type", "veth", "peer", "name", "p1", "netns", peer},
		{"-n", ns, "link", "add", "dn0", "address", "02:00:00:00:00:70", "type", "veth", "peer", "name", "dn1", "address", "02:00:00:00:00:71"},
		{"-n", ns, "link", "add", "n1", "address", "02:00:00:00:00:80", "type", "veth", "peer", "name", "n01", "address", "02:00:00:00:00:81"},
		{"-n", ns, "link", "add", "n10", "address", "02:00:00:00:00:90", "type", "veth", "peer", "name", "n2", "address", "02:00:00:00:00:91"},
		{"-n", ns, "addr", "add", "192.168.50.2/24", "broadcast", "192.168.50.255", "dev", "v0"},
		{"-n", ns, "addr", "add", "192.168.50.9/24", "dev", "v0", "label", "v0:1"},
		{"-n", ns, "addr", "add", "192.168.50.10/24", "dev", "v0", "label", "v0:lbl"},
		{"-n", ns, "addr", "add", "192.168.60.1/24", "dev", "averylongifnam0"},
		{"-n", peer, "addr", "add", "192.168.50.1/24", "dev", "v1"},
		{"-n", peer, "addr", "add", "192.168.60.2/24", "dev", "p1"},
		{"-n", ns, "link", "set", "v0", "up"},
		{"-n", ns, "link", "set", "averylongifnam0", "up"},
		{"-n", peer, "link", "set", "v1", "up"},
		{"-n", peer, "link", "set", "p1", "up"},
		{"-n", ns, "link", "set", "n10", "up", "mtu", "9000", "txqueuelen", "0"},
		{"-n", ns, "link", "set", "n2", "up", "dynamic", "on", "promisc", "on"},
		{"-n", ns, "link", "set", "n1", "multicast", "off"},
		{"-n", ns, "link", "set", "dn0", "promisc", "on"},
		{"-n", ns, "link", "set", "dn1", "allmulticast", "on", "arp", "off"},
		{"netns", "exec", ns, "ip", "tuntap", "add", "tun7", "mode", "tun"},
		{"-n", ns, "addr", "add", "10.200.0.1", "peer", "10.200.0.2", "dev", "tun7"},
		{"-n", ns, "link", "set", "tun7", "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// isInNetns runs fn on a thread that has entered namespace name; sockets fn
// makes belong to it (and keep working from any thread). The thread is
// never unlocked, so it ends with the goroutine instead of going back to
// the pool in the wrong namespace. It is never the main thread: that one's
// namespace is the process's (ip netns pids, which the namespace cleanup
// kills, would name the test), and it cannot end.
func isInNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Holding the main thread, ask again: the new goroutine
			// gets another thread.
			err := isInNetns(name, fn)
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// isTraffic sends, from namespace ns, its peer and back, every kind of
// packet whose counters the views print, then closes everything. TCP
// connections end with a reset so that no TIME_WAIT socket expires later
// (which would count in TcpExt's TW).
func isTraffic(ns, peer string) error {
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	keep := func(c interface{ Close() error }) { closers = append(closers, func() { c.Close() }) }
	var (
		peerUDP, peerBig *net.UDPConn
		peerTCP          *net.TCPListener
	)
	err := isInNetns(peer, func() error {
		var err error
		if peerUDP, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 168, 50, 1), Port: 7001}); err != nil {
			return err
		}
		keep(peerUDP)
		if peerBig, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 168, 60, 2), Port: 7003}); err != nil {
			return err
		}
		keep(peerBig)
		if peerTCP, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(192, 168, 60, 2), Port: 7002}); err != nil {
			return err
		}
		keep(peerTCP)
		// From the peer: to a closed port of ns (ICMP port unreachable
		// back), and a datagram ns must reassemble.
		if err := isSendUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 168, 50, 2), Port: 9}, 11, 11, 11); err != nil {
			return err
		}
		return isSendUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 168, 50, 2), Port: 7101}, 4000)
	})
	if err != nil {
		return fmt.Errorf("in %s: %w", peer, err)
	}
	err = isInNetns(ns, func() error {
		rcv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 168, 50, 2), Port: 7101})
		if err != nil {
			return err
		}
		keep(rcv)
		// UDP across v0, with and without fragments, and to a closed
		// port of the peer.
		for _, dst := range []*net.UDPAddr{
			{IP: net.IPv4(192, 168, 50, 1), Port: 7001},
			{IP: net.IPv4(192, 168, 60, 2), Port: 7003},
			{IP: net.IPv4(192, 168, 50, 1), Port: 9},
		} {
			if err := isSendUDP("udp4", dst, 10, 3000); err != nil {
				return err
			}
		}
		// UDP, UDP-Lite and IPv6 on loopback.
		if err := isSendUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, 8); err != nil {
			return err
		}
		if err := isSendUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback, Port: 9}, 8, 8); err != nil {
			return err
		}
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDPLITE); err == nil {
			closers = append(closers, func() { unix.Close(fd) })
			unix.Sendto(fd, []byte("lite"), 0, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
		}
		// ICMP echo across v0 and on lo, ICMPv6 echo on lo.
		if err := isPing(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{192, 168, 50, 1}}, 3); err != nil {
			return err
		}
		if err := isPing(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, 2); err != nil {
			return err
		}
		if err := isPing(unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, 2); err != nil {
			return err
		}
		// TCP to the peer through averylongifnam0, and on lo (IPv4 and
		// IPv6).
		if err := isTCP("192.168.60.2:7002", peerTCP); err != nil {
			return err
		}
		for _, nw := range []string{"tcp4", "tcp6"} {
			l, err := net.Listen(nw, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[nw])
			if err != nil {
				return err
			}
			keep(l)
			if err := isTCP(l.Addr().String(), l.(*net.TCPListener)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("in %s: %w", ns, err)
	}
	return nil
}

// isSendUDP sends datagrams of the given sizes to dst from an unconnected
// socket (a connected one would fail once an ICMP error came back).
func isSendUDP(nw string, dst *net.UDPAddr, sizes ...int) error {
	c, err := net.ListenUDP(nw, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, n := range sizes {
		if _, err := c.WriteToUDP(bytes.Repeat([]byte{'u'}, n), dst); err != nil {
			return err
		}
	}
	return nil
}

// isTCP connects to l at dst, moves some data both ways and resets the
// connection.
func isTCP(dst string, l *net.TCPListener) error {
	c, err := net.DialTimeout("tcp", dst, 5*time.Second)
	if err != nil {
		return err
	}
	l.SetDeadline(time.Now().Add(5 * time.Second))
	s, err := l.AcceptTCP()
	if err != nil {
		c.Close()
		return err
	}
	defer s.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	s.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte{'t'}, 5000)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(s, buf); err != nil {
		return err
	}
	if _, err := s.Write([]byte("reply")); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf[:5]); err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	tc.SetLinger(0)
	return tc.Close()
}

// isPing sends count ICMP (ICMPv6) echo requests through a raw socket; the
// kernel of the destination answers them.
func isPing(family int, dst unix.Sockaddr, count int) error {
	proto, typ := unix.IPPROTO_ICMP, byte(8)
	if family == unix.AF_INET6 {
		proto, typ = unix.IPPROTO_ICMPV6, 128
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for seq := range count {
		msg := make([]byte, 8+32)
		msg[0] = typ
		binary.BigEndian.PutUint16(msg[4:], 0x4242)
		binary.BigEndian.PutUint16(msg[6:], uint16(seq))
		if family == unix.AF_INET {
			binary.BigEndian.PutUint16(msg[2:], isChecksum(msg))
		} // the kernel computes ICMPv6 checksums for raw sockets
		if err := unix.Sendto(fd, msg, 0, dst); err != nil {
			return err
		}
	}
	return nil
}

func isChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// isCounterFiles are what -i and -s read; the namespace is quiet when they
// stop changing.
var isCounterFiles = []string{"snmp", "netstat", "snmp6", "dev"}

func isReadCounters(ns string) (map[string]string, error) {
	out := map[string]string{}
	err := isInNetns(ns, func() error {
		for _, f := range isCounterFiles {
			// /proc/self/net would be the main thread's namespace.
			b, err := os.ReadFile("/proc/thread-self/net/" + f)
			if err != nil {
				return err
			}
			out[f] = string(b)
		}
		return nil
	})
	return out, err
}

// isSettle waits until the counters of ns have not moved for a second
// (delayed ACKs, resets and ICMP errors arrive after the last write).
func isSettle(ns string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last map[string]string
	stable := 0
	for time.Now().Before(deadline) {
		cur, err := isReadCounters(ns)
		if err != nil {
			return err
		}
		if last != nil && fmt.Sprint(cur) == fmt.Sprint(last) {
			if stable++; stable == 4 {
				return nil
			}
		} else {
			stable = 0
		}
		last = cur
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the counters of %s kept moving for %v", ns, limit)
}

// isCheckTraffic makes sure the traffic reached the counters the views
// print, so that the comparisons are not of zeros.
func isCheckTraffic(ns string) error {
	files, err := isReadCounters(ns)
	if err != nil {
		return err
	}
	for _, want := range []struct{ file, text string }{
		{"snmp", "IcmpMsg: InType0 InType3 InType8 OutType0 OutType3 OutType8"},
		{"snmp6", "Udp6OutDatagrams"},
		{"dev", "v0:"},
	} {
		if !strings.Contains(files[want.file], want.text) {
			return fmt.Errorf("/proc/net/%s of %s lacks %q after the traffic:\n%s", want.file, ns, want.text, files[want.file])
		}
	}
	for _, line := range strings.Split(files["dev"], "\n") {
		f := strings.Fields(strings.Replace(line, ":", " ", 1))
		if len(f) > 10 && (f[0] == "v0" || f[0] == "averylongifnam0") && (f[2] == "0" || f[10] == "0") {
			return fmt.Errorf("no packets counted on %s: %q", f[0], line)
		}
	}
	return nil
}
