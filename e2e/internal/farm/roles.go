package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The sockets each farm process owns. Ports are picked to hit named services
// (ssh, ipp, mysql, http-alt, nfs, mdns, ntp, syslog, bootps, dhcpv6-client,
// x11, afs3-fileserver, bbs) and unnamed ones; addresses to hit the private
// hosts file (localhost, the long 127.0.0.5 and 2001:db8:... names) and
// addresses without a name (10.1.0.0).

const (
	lo4    = "127.0.0.1"
	long4  = "127.0.0.5" // this-is-a-very-long-hostname.example.com
	plain4 = "10.1.0.0"  // on lo, no name
	lo6    = "::1"
	long6  = "2001:db8:1234:5678:9abc:def0:1234:5678" // v6long.example.org
	mapped = "::ffff:127.0.0.1"
	// Forms that test IPv6 text formatting: glibc writes the first as
	// "::10.1.2.3", and shortens only the first of two equal zero runs.
	compat6  = "::10.1.2.3"
	zeros6   = "2001:db8::1:0:0:1"
	onezero6 = "2001:db8:0:1:1:1:1:1"
)

// parentSockets opens the bulk of the sockets in the parent process.
func parentSockets(dir string, hostile bool) {
	tcpParent()
	udpParent()
	udpliteParent()
	rawParent()
	unixParent(dir)
	namesParent()
	if hostile {
		hostileParent(dir)
	}
}

// namesParent covers name-formatting corners: ports named for one protocol
// only, address forms where glibc's inet_ntop and Go differ, and hosts-file
// entries with a second line, mixed case or a trailing dot.
func namesParent() {
	tcpListen(inet4(lo4, 514), false)                  // tcp/514 is "shell", udp/514 "syslog"
	tcpListen(inet4(lo4, 123), false)                  // ntp is udp-only
	udpSocket(0, inet4("0.0.0.0", 22), nil, false)     // ssh is tcp-only
	udpSocket(0, inet4("127.0.0.6", 5060), nil, false) // trailing-dot.example.
	udpSocket(0, inet4("10.1.0.7", 9), nil, false)     // MixedCase-Host.Example
	tcpListen(inet6(compat6, 443), true)               // ::10.1.2.3
	udpSocket(0, inet6(zeros6, 4001), nil, true)
	udpSocket(0, inet6(onezero6, 5061), inet6(zeros6, 4001), true)

	// A Recv-Q wider than netstat's 6-digit column.
	r := udpSocket(0, inet4(lo4, 9998), nil, false)
	setInt(r, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	s := udpSocket(0, inet4(lo4, 0), nil, false)
	queueDatagrams(s, r, inet4(lo4, 9998), 20, strings.Repeat("q", 60000))
}

// hostileParent binds UNIX paths with a newline (which splits its
// /proc/net/unix line: netstat warns about a bogus line), an escape
// sequence and bytes that are not UTF-8.
func hostileParent(dir string) {
	unixListen(unix.SOCK_STREAM, filepath.Join(dir, "new\nline.sock"))
	unixListen(unix.SOCK_STREAM, filepath.Join(dir, "esc\x1b[31mred.sock"))
	unixListen(unix.SOCK_STREAM, filepath.Join(dir, "bin\xff\xfe.sock"))
}

func tcpParent() {
	// Recv-Q 100: the server never reads what the client sent.
	l := tcpListen(inet4(lo4, 8080), false)
	c, s := tcpPair(l, nil, inet4(lo4, 8080))
	write(c, []byte(strings.Repeat("x", 100)))
	settled(c)
	waitFor("100 bytes queued on the http-alt server", func() bool { return inq(s) == 100 })

	// A listener that never accepts: one connection half-closed by the
	// client (FIN_WAIT2 / CLOSE_WAIT in the accept queue, inode 0) and one
	// plain established one, so Recv-Q of the LISTEN row is 2.
	l = tcpListen(inet4(lo4, 40000), false)
	halfClose(tcpDial(nil, inet4(lo4, 40000)))
	tcpDial(nil, inet4(lo4, 40000))
	waitConnections(40000, 2)

	// Send-Q: the server does not read, the client fills both buffers.
	l = socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	setInt(l, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	setInt(l, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	bind(l, inet4(lo4, 7000))
	listen(l)
	c = socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	setInt(c, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	connect(c, inet4(lo4, 7000))
	accept(l)
	fillSendQueue(c)

	// Dual-stack listener: a v4 client appears as a v4-mapped tcp6 row.
	l = tcpListen(inet6("::", 3306), false)
	tcpPair(l, inet4(lo4, 0), inet4(lo4, 3306))
	tcpPair(l, nil, inet6(lo6, 3306))

	// v6-only listener on the same port as the shared v4 one.
	tcpListen(inet6("::", 22), true)

	// ipp on ::1: one established pair, one half-closed pair, one
	// connection left in the accept queue.
	l = tcpListen(inet6(lo6, 631), true)
	tcpPair(l, nil, inet6(lo6, 631))
	c, _ = tcpPair(l, nil, inet6(lo6, 631))
	halfClose(c)
	tcpDial(nil, inet6(lo6, 631))
	waitConnections(631, 3)

	// TIME_WAIT by active close, v4 and v6; the listeners go away.
	timeWait(inet4(lo4, 4444))
	timeWait(inet6(lo6, 4445))

	// An orphaned FIN_WAIT2 (closed after its FIN was acknowledged): the
	// kernel turns it into a timewait socket, shown as FIN_WAIT2 with a
	// timewait timer; its peer stays in CLOSE_WAIT.
	l = tcpListen(inet4(lo4, 4446), false)
	c, _ = tcpPair(l, nil, inet4(lo4, 4446))
	unix.Close(l)
	halfClose(c)
	unix.Close(c)
	waitFor("orphaned FIN_WAIT2 on :4446", func() bool {
		for _, r := range tcpRows() {
			if r.rport == 4446 && r.state == tcpFinWait2 && r.inode == "0" {
				return true
			}
		}
		return false
	})
}

// waitConnections waits until n server-side connections of the listener on
// port exist, accepted or not (the kernel creates a queued connection's
// socket when the handshake's last ACK arrives, after connect returned).
func waitConnections(port, n int) {
	waitFor(fmt.Sprintf("%d connections on port %d", n, port), func() bool {
		count := 0
		for _, r := range tcpRows() {
			if r.lport == port && r.rport != 0 {
				count++
			}
		}
		return count == n
	})
}

// timeWait leaves one TIME_WAIT socket whose remote end is to: the client
// closes first, the server closes after reading EOF.
func timeWait(to unix.Sockaddr) {
	l := tcpListen(to, true)
	c, s := tcpPair(l, nil, to)
	unix.Close(l)
	unix.Close(c)
	if n, err := unix.Read(s, make([]byte, 1)); n != 0 || err != nil {
		fatalf("reading EOF from %s: n=%d err=%v", describe(to), n, err)
	}
	unix.Close(s)
	var port int
	switch a := to.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	waitFor("TIME_WAIT towards "+describe(to), func() bool { return onlyState(port, tcpTimeWait, 1) })
}

func udpParent() {
	udpSocket(0, inet4("0.0.0.0", 67), nil, false)
	udpSocket(0, inet4(lo4, 123), nil, false)
	udpSocket(0, inet4(lo4, 5353), inet4(lo4, 123), false)

	// Recv-Q: four datagrams from an unconnected sender on a random port.
	r := udpSocket(0, inet4(lo4, 9999), nil, false)
	s := udpSocket(0, inet4("0.0.0.0", 0), nil, false)
	queueDatagrams(s, r, inet4(lo4, 9999), 4, "farm datagram")

	udpSocket(0, inet6("::", 546), nil, true)
	udpSocket(0, inet6(lo6, 514), nil, true)
	udpSocket(0, nil, inet6(lo6, 514), true)

	// Dual-stack: a v4 datagram queued on a v6 socket, and a v6 socket
	// connected to a v4 peer (both rows show v4-mapped addresses).
	r = udpSocket(0, inet6("::", 5001), nil, false)
	s = udpSocket(0, inet4(lo4, 0), nil, false)
	queueDatagrams(s, r, inet4(lo4, 5001), 2, "to a dual-stack socket")
	udpSocket(0, nil, inet6(mapped, 123), false)
}

func udpliteParent() {
	r := udpSocket(ipprotoUDPLite, inet4(lo4, 7777), nil, false)
	c := udpSocket(ipprotoUDPLite, nil, inet4(lo4, 7777), false)
	queueDatagrams(c, r, nil, 3, "lite")
	udpSocket(ipprotoUDPLite, inet6(lo6, 7778), nil, true)
	udpSocket(ipprotoUDPLite, nil, inet6(lo6, 7778), true)
}

func rawParent() {
	icmp := socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	icmp6 := socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)

	ospf := socket(unix.AF_INET, unix.SOCK_RAW, 89)
	bind(ospf, inet4(lo4, 0))
	ospf6 := socket(unix.AF_INET6, unix.SOCK_RAW, 89)
	bind(ospf6, inet6(lo6, 0))

	// A connected raw socket (remote address set: not a "server").
	exp := socket(unix.AF_INET, unix.SOCK_RAW, 253)
	connect(exp, inet4(long4, 0))
	exp6 := socket(unix.AF_INET6, unix.SOCK_RAW, 253)
	connect(exp6, inet6(long6, 0))

	// One echo reply per family: each raw ICMP socket gets a copy.
	sendto(icmp, icmpEchoReply(false), inet4(lo4, 0))
	sendto(icmp6, icmpEchoReply(true), inet6(lo6, 0))
	waitFor("ICMP echo reply on the raw socket", func() bool { return rmem(icmp) > 0 })
	waitFor("ICMPv6 echo reply on the raw6 socket", func() bool { return rmem(icmp6) > 0 })
}

func unixParent(dir string) {
	stream := filepath.Join(dir, "stream.sock")
	seq := filepath.Join(dir, "seq.sock")
	dgram := filepath.Join(dir, "dgram.sock")

	l := unixListen(unix.SOCK_STREAM, stream)
	unixConnect(unix.SOCK_STREAM, stream)
	accept(l)

	l = unixListen(unix.SOCK_SEQPACKET, seq)
	unixConnect(unix.SOCK_SEQPACKET, seq)
	accept(l)

	unixSocket(unix.SOCK_DGRAM, dgram)
	unixConnect(unix.SOCK_DGRAM, dgram)
	unixSocket(unix.SOCK_DGRAM, "") // unbound, unconnected

	l = unixListen(unix.SOCK_STREAM, "@abstract-listener")
	unixConnect(unix.SOCK_STREAM, "@abstract-listener")
	accept(l)
	unixListen(unix.SOCK_STREAM, "@abs\x00with\x00nul")
	unixSocket(unix.SOCK_DGRAM, "@farm dgram with space")

	// Whitespace in paths: netstat shows them cut at the first blank.
	unixListen(unix.SOCK_STREAM, filepath.Join(dir, "with space.sock"))
	unixSocket(unix.SOCK_DGRAM, filepath.Join(dir, "tab\there.sock"))

	// An autobound name ("@" and five hex digits) and a 106-byte
	// abstract name (the longest x/sys/unix accepts: one short of the
	// kernel's limit).
	unixSocket(unix.SOCK_DGRAM, autobind)
	unixListen(unix.SOCK_STREAM, "@"+strings.Repeat("m", 106))

	socketpair(unix.SOCK_STREAM)
	socketpair(unix.SOCK_DGRAM)
	socketpair(unix.SOCK_SEQPACKET)
	unixSocket(unix.SOCK_STREAM, "") // never bound or connected
}

// sharedFD is where children that take part in the pre-fork listener find it.
const sharedFD = 3

// longSockets: argv[0] "averyveryverylongprogramname" (cut to 19 bytes with
// its PID by -p), root, holds the pre-fork listener.
func longSockets() {
	l := tcpListen(inet4(long4, 2049), false)
	tcpPair(l, inet4(long4, 0), inet4(long4, 2049))
	udpSocket(0, inet4(long4, 7000), nil, false)
	r := udpSocket(0, inet4(long4, 514), nil, false)
	s := udpSocket(0, inet4(long4, 0), inet4(long4, 514), false)
	queueDatagrams(s, r, nil, 1, "syslog line")
	holdShared()
}

// relSockets: argv[0] "./rel prog" (relative, with a space), root, holds the
// pre-fork listener and the longest UNIX path.
func relSockets(dir string) {
	l := tcpListen(inet6(long6, 12345), true)
	tcpPair(l, nil, inet6(long6, 12345))
	udpSocket(0, inet6(long6, 33333), inet6(long6, 33334), true)
	udpSocket(0, inet6(long6, 33334), inet6(long6, 33333), true)

	// A path of exactly 100 bytes.
	prefix := filepath.Join(dir, "long-")
	path := prefix + strings.Repeat("d", 100-len(prefix)-len(".sock")) + ".sock"
	if len(path) != 100 {
		fatalf("socket dir %q too long for a 100-byte path", dir)
	}
	l = unixListen(unix.SOCK_STREAM, path)
	unixConnect(unix.SOCK_STREAM, path)
	accept(l)
	holdShared()
}

// daemonSockets: argv[0] "/opt/my daemon/sshd: wörker [priv]" (-p keeps
// what follows the last '/', and cuts inside the UTF-8 'ö' for some PID
// lengths), uid 4242 whose user name is longer than the User column.
func daemonSockets() {
	tcpListen(inet4(lo4, 6000), false)
	udpSocket(0, inet4(lo4, 6001), nil, false)
}

// emptySockets: argv[0] "" (an empty program name), uid 4243 without a
// passwd entry. Owns a keep-alive connection on an address without a name.
func emptySockets() {
	l := tcpListen(inet4(plain4, 5000), false)
	c, _ := tcpPair(l, inet4(plain4, 0), inet4(plain4, 5000))
	setInt(c, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
}

// hostileSockets: argv[0] with an escape sequence, a byte that is not
// UTF-8 and a newline.
func hostileSockets() {
	tcpListen(inet4(lo4, 6666), false)
	udpSocket(0, inet4(lo4, 6667), nil, false)
}

// slashSockets: argv[0] "/usr/bin/", whose name after the last '/' is
// empty.
func slashSockets() {
	tcpListen(inet4(lo4, 6668), false)
}

// nobodySockets: uid 65534 owns one listener, so a netstat -p run as nobody
// can map some sockets but not all.
func nobodySockets() {
	tcpListen(inet4(lo4, 7070), false)
}

// holdShared checks that fd 3 is the inherited pre-fork listener; keeping
// the process alive keeps it open.
func holdShared() {
	v, err := unix.GetsockoptInt(sharedFD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || v != 1 {
		fatalf("fd %d is not the shared listener (SO_ACCEPTCONN=%d, %v)", sharedFD, v, err)
	}
}
