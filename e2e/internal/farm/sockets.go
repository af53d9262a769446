package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sockets are plain blocking file descriptors made with raw system calls:
// no Go poller, no keep-alive defaults from package net, no finalizers that
// could close them. Every helper exits the farm on error.

// ipprotoUDPLite is IPPROTO_UDPLITE.
const ipprotoUDPLite = 136

func inet4(addr string, port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: netip.MustParseAddr(addr).As4()}
}

func inet6(addr string, port int) *unix.SockaddrInet6 {
	return &unix.SockaddrInet6{Port: port, Addr: netip.MustParseAddr(addr).As16()}
}

func family(sa unix.Sockaddr) int {
	if _, ok := sa.(*unix.SockaddrInet4); ok {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func describe(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		return strconv.Quote(a.Name)
	}
	return fmt.Sprint(sa)
}

func socket(domain, typ, proto int) int {
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		fatalf("socket(%d, %d, %d): %v", domain, typ, proto, err)
	}
	return fd
}

func setInt(fd, level, opt, v int) {
	if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
		fatalf("setsockopt(%d, %d, %d): %v", level, opt, v, err)
	}
}

func bind(fd int, sa unix.Sockaddr) {
	if err := unix.Bind(fd, sa); err != nil {
		fatalf("bind %s: %v", describe(sa), err)
	}
}

func connect(fd int, sa unix.Sockaddr) {
	if err := unix.Connect(fd, sa); err != nil {
		fatalf("connect %s: %v", describe(sa), err)
	}
}

func listen(fd int) {
	if err := unix.Listen(fd, 128); err != nil {
		fatalf("listen: %v", err)
	}
}

func accept(l int) int {
	fd, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	if err != nil {
		fatalf("accept: %v", err)
	}
	return fd
}

func write(fd int, b []byte) {
	if n, err := unix.Write(fd, b); err != nil || n != len(b) {
		fatalf("write %d bytes: wrote %d: %v", len(b), n, err)
	}
}

func sendto(fd int, b []byte, to unix.Sockaddr) {
	if err := unix.Sendto(fd, b, 0, to); err != nil {
		fatalf("sendto %s: %v", describe(to), err)
	}
}

// tcpListen opens a TCP listener. For IPv6 addresses v6only chooses between a
// v6-only and a dual-stack socket.
func tcpListen(sa unix.Sockaddr, v6only bool) int {
	fd := socket(family(sa), unix.SOCK_STREAM, 0)
	setInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if family(sa) == unix.AF_INET6 {
		setInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, b2i(v6only))
	}
	bind(fd, sa)
	listen(fd)
	return fd
}

// tcpDial connects a new TCP socket, bound to from first when from is not nil.
func tcpDial(from, to unix.Sockaddr) int {
	fd := socket(family(to), unix.SOCK_STREAM, 0)
	if from != nil {
		bind(fd, from)
	}
	connect(fd, to)
	return fd
}

// tcpPair connects to listener l (listening on to) and accepts the
// connection: the accept queue is FIFO, so the accepted socket is the peer.
func tcpPair(l int, from, to unix.Sockaddr) (client, server int) {
	client = tcpDial(from, to)
	return client, accept(l)
}

func tcpInfo(fd int) *unix.TCPInfo {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		fatalf("TCP_INFO: %v", err)
	}
	return ti
}

// TCP states as in include/net/tcp_states.h.
const (
	tcpEstablished = 1
	tcpFinWait2    = 5
	tcpTimeWait    = 6
	tcpCloseWait   = 8
)

// halfClose shuts down the sending side of fd and waits until the peer has
// acknowledged the FIN: fd is then in FIN_WAIT2 and the peer in CLOSE_WAIT.
func halfClose(fd int) {
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		fatalf("shutdown: %v", err)
	}
	waitFor("FIN_WAIT2 after shutdown", func() bool { return tcpInfo(fd).State == tcpFinWait2 })
}

// settled waits until everything fd has sent is acknowledged, so that no
// retransmission or loss-probe timer is pending.
func settled(fd int) {
	waitFor("all sent data acknowledged", func() bool { return tcpInfo(fd).Unacked == 0 })
}

func inq(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		fatalf("SIOCINQ: %v", err)
	}
	return n
}

func outq(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		fatalf("SIOCOUTQ: %v", err)
	}
	return n
}

// fillSendQueue writes to the connected socket client until its peer's
// receive window is closed and its own send buffer is full, and returns once
// both queues have stopped moving: the sender then only sends zero-window
// probes carrying no data. It keeps the buffers small so this is quick.
func fillSendQueue(client int) {
	if err := unix.SetNonblock(client, true); err != nil {
		fatalf("O_NONBLOCK: %v", err)
	}
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	writeUntilFull := func() bool {
		wrote := false
		for {
			_, err := unix.Write(client, buf)
			if err == unix.EAGAIN {
				return wrote
			}
			if err != nil {
				fatalf("filling send queue: %v", err)
			}
			wrote = true
		}
	}
	for range 100 {
		writeUntilFull()
		settled(client)
		if !writeUntilFull() {
			if err := unix.SetNonblock(client, false); err != nil {
				fatalf("O_NONBLOCK: %v", err)
			}
			return
		}
	}
	fatalf("send queue never filled up")
}

// udpSocket opens a datagram socket of protocol proto (0 or IPPROTO_UDPLITE)
// bound to local (when not nil) and connected to remote (when not nil).
func udpSocket(proto int, local, remote unix.Sockaddr, v6only bool) int {
	fam := unix.AF_INET
	switch {
	case local != nil:
		fam = family(local)
	case remote != nil:
		fam = family(remote)
	}
	fd := socket(fam, unix.SOCK_DGRAM, proto)
	if fam == unix.AF_INET6 {
		setInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, b2i(v6only))
	}
	if local != nil {
		bind(fd, local)
	}
	if remote != nil {
		connect(fd, remote)
	}
	return fd
}

// rmem returns the receive-queue memory of fd (SK_MEMINFO_RMEM_ALLOC), the
// number /proc/net/udp and /proc/net/raw show as rx_queue.
func rmem(fd int) uint32 {
	var info [unix.SK_MEMINFO_VARS]uint32
	l := uint32(unsafe.Sizeof(info))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		fatalf("SO_MEMINFO: %v", errno)
	}
	return info[unix.SK_MEMINFO_RMEM_ALLOC]
}

// queueDatagrams sends n identical datagrams from sender to receiver (at
// addr) and waits until all of them sit in receiver's queue. Identical
// datagrams have identical truesize, so the first one tells what n of them
// weigh.
func queueDatagrams(sender, receiver int, addr unix.Sockaddr, n int, payload string) {
	before := rmem(receiver)
	send := func() {
		if addr == nil {
			write(sender, []byte(payload))
		} else {
			sendto(sender, []byte(payload), addr)
		}
	}
	send()
	waitFor("first datagram queued", func() bool { return rmem(receiver) > before })
	one := rmem(receiver) - before
	for range n - 1 {
		send()
	}
	want := before + uint32(n)*one
	waitFor(fmt.Sprintf("%d datagrams queued (%d bytes)", n, want), func() bool { return rmem(receiver) == want })
}

// icmpEchoReply is an ICMP (type 0) or ICMPv6 (type 129) echo reply: the
// kernel hands it to every raw socket of the protocol and then drops it
// without answering, so it fills raw Recv-Q columns without further traffic.
func icmpEchoReply(v6 bool) []byte {
	typ := byte(0)
	if v6 {
		typ = 129
	}
	p := []byte{typ, 0, 0, 0, 0x12, 0x34, 0, 1, 'f', 'a', 'r', 'm'}
	if !v6 { // the kernel computes ICMPv6 checksums itself
		var sum uint32
		for i := 0; i < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		cs := ^uint16(sum)
		p[2], p[3] = byte(cs>>8), byte(cs)
	}
	return p
}

// autobind, as a name for unixSocket, asks the kernel to pick an abstract
// name (bind with an empty address).
const autobind = "\x00autobind"

// unixSocket opens a UNIX socket of type typ, bound to name when not empty
// (a leading '@' makes it abstract; later NULs are kept).
func unixSocket(typ int, name string) int {
	fd := socket(unix.AF_UNIX, typ, 0)
	switch name {
	case "":
	case autobind:
		bind(fd, &unix.SockaddrUnix{})
	default:
		bind(fd, &unix.SockaddrUnix{Name: name})
	}
	return fd
}

func unixListen(typ int, name string) int {
	fd := unixSocket(typ, name)
	listen(fd)
	return fd
}

func unixConnect(typ int, name string) int {
	fd := unixSocket(typ, "")
	connect(fd, &unix.SockaddrUnix{Name: name})
	return fd
}

func socketpair(typ int) {
	if _, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0); err != nil {
		fatalf("socketpair(%d): %v", typ, err)
	}
}

// tcpRow is one line of /proc/net/tcp or tcp6, reduced to what the farm
// waits for.
type tcpRow struct {
	lport, rport int
	state        int
	inode        string
}

func tcpRows() []tcpRow {
	var rows []tcpRow
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(path)
		if err != nil {
			fatalf("%v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			port := func(s string) int {
				v, _ := strconv.ParseInt(s[strings.LastIndexByte(s, ':')+1:], 16, 32)
				return int(v)
			}
			st, _ := strconv.ParseInt(fields[3], 16, 32)
			rows = append(rows, tcpRow{port(fields[1]), port(fields[2]), int(st), fields[9]})
		}
		f.Close()
	}
	return rows
}

// onlyState reports whether every /proc/net/tcp{,6} row that involves port
// is in state and there are exactly n of them.
func onlyState(port, state, n int) bool {
	count := 0
	for _, r := range tcpRows() {
		if r.lport != port && r.rport != port {
			continue
		}
		if r.state != state {
			return false
		}
		count++
	}
	return count == n
}

// waitFor polls cond until it holds; the farm fails if it does not within a
// few seconds. Polling is the readiness signal here: the kernel offers no
// notification for the states waited on.
func waitFor(what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
