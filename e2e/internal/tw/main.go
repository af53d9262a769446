// Command tw is the workload of the merged-view tests (e2e/merged_test.go):
// a TCP server and a client, each its own process, in the network
// namespace they run in. The client makes connections that it closes
// first, so that they end in TIME_WAIT on its side.
//
//	tw server -addr 127.0.0.1:PORT
//	    listens, prints "ready PID", then accepts: each connection is read
//	    until EOF and closed. It exits when its stdin reaches EOF.
//	tw client -addr 127.0.0.1:PORT -n N -interval D -hold D
//	    prints "ready PID", then starts connection i at i*interval (each in
//	    its own goroutine, so long holds overlap): dial, write 4 bytes,
//	    wait hold, shut down its sending side, read until the server's FIN
//	    (EOF), close. For each it prints
//	        conn LOCALPORT S D F C
//	    with wall-clock Unix nanoseconds taken before the dial (S), after it
//	    (D), before the shutdown (F) and after the EOF (C): the kernel saw
//	    the connection start within [S, D] and the client socket close
//	    (FIN_WAIT2 -> TIME_WAIT) within [F, C]. Then it prints "done" and
//	    keeps running, its PID alive, until its stdin reaches EOF. Meanwhile
//	    each stdin line "burst D" makes it run connections (without hold)
//	    one after the other for D, print their conn lines and "burst-done".
//
// Any failure is printed as "error ..." on stdout and ends the process with
// status 1.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

var outMu sync.Mutex

func say(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func fail(format string, args ...any) {
	say("error "+format, args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tw server|client [flags]")
		os.Exit(2)
	}
	role := os.Args[1]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:7171", "server address")
	n := fs.Int("n", 20, "connections (client)")
	interval := fs.Duration("interval", 50*time.Millisecond, "time between connection starts (client)")
	hold := fs.Duration("hold", 5*time.Millisecond, "how long each connection stays open (client)")
	fs.Parse(os.Args[2:])
	switch role {
	case "server":
		server(*addr)
	case "client":
		client(*addr, *n, *interval, *hold)
	default:
		fmt.Fprintf(os.Stderr, "tw: unknown role %q\n", role)
		os.Exit(2)
	}
	// Stay alive (so the PID stays valid) until the test closes stdin.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "burst ")
		if role != "client" || !ok {
			continue
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			fail("bad burst %q", d)
		}
		for start := time.Now(); time.Since(start) < dur; {
			conn(*addr, 0)
		}
		say("burst-done")
	}
}

func server(addr string) {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	say("ready %d", os.Getpid())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
}

func client(addr string, n int, interval, hold time.Duration) {
	say("ready %d", os.Getpid())
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Go(func() { conn(addr, hold) })
	}
	wg.Wait()
	say("done")
}

func conn(addr string, hold time.Duration) {
	s := time.Now()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	d := time.Now()
	tc := c.(*net.TCPConn)
	if _, err := tc.Write([]byte("ping")); err != nil {
		fail("write: %v", err)
	}
	if hold > 0 {
		time.Sleep(hold)
	}
	f := time.Now()
	if err := tc.CloseWrite(); err != nil {
		fail("shutdown: %v", err)
	}
	if _, err := io.Copy(io.Discard, tc); err != nil {
		fail("read: %v", err)
	}
	e := time.Now()
	tc.Close()
	port := tc.LocalAddr().(*net.TCPAddr).Port
	say("conn %d %d %d %d %d", port, s.UnixNano(), d.UnixNano(), f.UnixNano(), e.UnixNano())
}
