// Command fails is the failed-connection workload of the tracer tests
// (e2e/failures_test.go): each invocation is one process that makes one
// TCP connection end one abnormal way, and prints one JSON line saying
// what it did (its PID, the socket's cookie, the addresses it knew, the
// error it got), so the test can hold the tracers' records against it.
//
//	fails connect ADDR           blocking connect; prints the error
//	fails abandon ADDR           non-blocking connect, close in SYN_SENT
//	fails linger-server ADDR     accept one, close it with SO_LINGER 0
//	fails read-client ADDR       connect, read until the peer resets
//	fails backlog-server ADDR    listen, never accept, close on stdin EOF
//	fails late-server ADDR       listen, accept one only on stdin EOF, close
//	fails abort-client ADDR      connect, close with SO_LINGER 0
//	fails hold-client ADDR       connect and wait for the peer to reset
//	fails normal-server ADDR     accept one, echo until EOF, close
//	fails normal-client ADDR     connect, send, read the echo, close
//
// Servers print "ready" once listening, before their record.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Record is what one process did.
type Record struct {
	Case   string `json:"case"`
	PID    int    `json:"pid"`
	Cookie uint64 `json:"cookie"`
	LAddr  string `json:"laddr,omitempty"`
	LPort  int    `json:"lport"` // 0 when the process could not learn it
	RAddr  string `json:"raddr,omitempty"`
	RPort  int    `json:"rport"`
	Err    string `json:"err,omitempty"` // errno name the process saw
}

func main() {
	if len(os.Args) != 3 {
		fatalf("usage: fails MODE ADDR")
	}
	mode := os.Args[1]
	addr, err := netip.ParseAddrPort(os.Args[2])
	if err != nil {
		fatalf("%v", err)
	}
	rec := Record{Case: mode, PID: os.Getpid()}
	switch mode {
	case "connect", "abandon", "read-client", "hold-client", "normal-client", "abort-client":
		client(mode, addr, &rec)
	case "linger-server", "backlog-server", "normal-server", "late-server":
		server(mode, addr, &rec)
	default:
		fatalf("unknown mode %q", mode)
	}
	out, _ := json.Marshal(rec)
	fmt.Println(string(out))
}

func client(mode string, addr netip.AddrPort, rec *Record) {
	fd := socket(addr)
	defer unix.Close(fd)
	rec.RAddr, rec.RPort = addr.Addr().String(), int(addr.Port())
	if mode == "abandon" {
		if err := unix.SetNonblock(fd, true); err != nil {
			fatalf("%v", err)
		}
	}
	err := unix.Connect(fd, sockaddr(addr))
	cookie(fd, rec)
	local(fd, rec)
	switch mode {
	case "connect":
		if err == nil {
			fatalf("connect to %v succeeded", addr)
		}
		rec.Err = unix.ErrnoName(err.(unix.Errno))
		return
	case "abandon":
		if !errors.Is(err, unix.EINPROGRESS) {
			fatalf("non-blocking connect to %v: %v, want EINPROGRESS", addr, err)
		}
		// Still in SYN_SENT: nothing answers that address.
		time.Sleep(200 * time.Millisecond)
		return
	}
	if err != nil {
		fatalf("connect %v: %v", addr, err)
	}
	switch mode {
	case "abort-client":
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
			fatalf("%v", err)
		}
	case "normal-client":
		if _, err := unix.Write(fd, []byte("ping")); err != nil {
			fatalf("write: %v", err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(fdReader(fd), buf); err != nil {
			fatalf("read: %v", err)
		}
	case "read-client", "hold-client":
		// Wait for the peer's reset.
		buf := make([]byte, 64)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil {
				rec.Err = unix.ErrnoName(err.(unix.Errno))
				return
			}
			if n == 0 {
				fatalf("EOF where a reset was expected")
			}
		}
	}
}

func server(mode string, addr netip.AddrPort, rec *Record) {
	lfd := socket(addr)
	if err := unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		fatalf("%v", err)
	}
	if err := unix.Bind(lfd, sockaddr(addr)); err != nil {
		fatalf("bind %v: %v", addr, err)
	}
	if err := unix.Listen(lfd, 16); err != nil {
		fatalf("%v", err)
	}
	fmt.Println("ready")
	if mode == "backlog-server" {
		// Never accept: the test connects, then closes stdin.
		io.Copy(io.Discard, os.Stdin)
		rec.LAddr, rec.LPort = addr.Addr().String(), int(addr.Port())
		unix.Close(lfd)
		return
	}
	if mode == "late-server" {
		// Accept only once the test says the client is gone.
		io.Copy(io.Discard, os.Stdin)
	}
	fd, _, err := unix.Accept(lfd)
	if err != nil {
		fatalf("accept: %v", err)
	}
	unix.Close(lfd)
	cookie(fd, rec)
	local(fd, rec)
	remote(fd, rec)
	switch mode {
	case "linger-server":
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
			fatalf("%v", err)
		}
	case "normal-server":
		buf := make([]byte, 4)
		if _, err := io.ReadFull(fdReader(fd), buf); err != nil {
			fatalf("read: %v", err)
		}
		if _, err := unix.Write(fd, buf); err != nil {
			fatalf("write: %v", err)
		}
		// Wait for the client's FIN.
		if n, _ := unix.Read(fd, buf); n != 0 {
			fatalf("more data where EOF was expected")
		}
	}
	unix.Close(fd)
}

func socket(addr netip.AddrPort) int {
	family := unix.AF_INET
	if addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		fatalf("socket: %v", err)
	}
	return fd
}

func sockaddr(addr netip.AddrPort) unix.Sockaddr {
	if addr.Addr().Is6() {
		return &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	return &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
}

func cookie(fd int, rec *Record) {
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	if err != nil {
		fatalf("SO_COOKIE: %v", err)
	}
	rec.Cookie = c
}

// local records the local address while the socket still has its port: a
// connect the kernel already failed has given its port back.
func local(fd int, rec *Record) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return
	}
	a, p := fromSockaddr(sa)
	if p != 0 {
		rec.LAddr, rec.LPort = a, p
	}
}

func remote(fd int, rec *Record) {
	if sa, err := unix.Getpeername(fd); err == nil {
		rec.RAddr, rec.RPort = fromSockaddr(sa)
	}
}

func fromSockaddr(sa unix.Sockaddr) (string, int) {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(s.Addr).String(), s.Port
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(s.Addr).String(), s.Port
	}
	return "", 0
}

type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	n, err := unix.Read(int(f), p)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	if n < 0 {
		n = 0
	}
	return n, err
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fails: "+format+"\n", args...)
	os.Exit(1)
}
