package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// TCP states as /proc/net/tcp numbers them (include/net/tcp_states.h). A
// timewait socket shows its substate: TIME_WAIT or FIN_WAIT2.
const (
	stateEstablished = 1
	stateSynSent     = 2
	stateSynRecv     = 3
	stateFinWait1    = 4
	stateFinWait2    = 5
	stateTimeWait    = 6
	stateClose       = 7
	stateCloseWait   = 8
	stateLastAck     = 9
	stateListen      = 10
	stateClosing     = 11
)

// tcpStates counts the namespace's TCP sockets by state.
func tcpStates() map[int]int {
	n := map[int]int{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			fatalf("%v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 {
				continue
			}
			st, err := strconv.ParseUint(fields[3], 16, 8)
			if err != nil {
				fatalf("%s: bad state in %q", file, sc.Text())
			}
			n[int(st)]++
		}
		if err := sc.Err(); err != nil {
			fatalf("%s: %v", file, err)
		}
		f.Close()
	}
	return n
}

// waitStates polls the socket tables until ok holds.
//
// ok must hold on three reads in a row: /proc/net/tcp comes in page-sized
// reads, each resuming at a bucket and offset, so a socket removed while
// the table is read can make the next one go unseen once (seen here: a
// FIN_WAIT1 socket missed, the workload stopped early, and its last
// transitions came after the tracers had stopped).
func waitStates(ok func(map[int]int) bool, what string) {
	deadline := time.Now().Add(settleTimeout)
	for held := 0; ; {
		n := tcpStates()
		if !ok(n) {
			held = 0
		} else if held++; held == 3 {
			return
		}
		if time.Now().After(deadline) {
			fatalf("after %v still not %s: sockets by state %v", settleTimeout, what, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
