package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/e2e/internal/churn/record"
)

type runConfig struct {
	out                     string
	acceptors, clients      int
	conns, refused, backlog int
	seed                    int64
	refusedPort             int
}

// settleTimeout bounds every wait for the kernel.
const settleTimeout = 20 * time.Second

// run starts the servers and the clients, waits until every connection has
// reached its final state, then stops everything: the backlog listener
// first (closing it aborts its never-accepted connections), the pre-fork
// server last.
func run(c *runConfig) {
	srv := start("server", nil, "-out", c.out, "-acceptors", strconv.Itoa(c.acceptors))
	sp := srv.ready()
	bl := start("backlog", nil, "-out", c.out)
	bp := bl.ready()

	var clients []*child
	for i := 1; i <= c.clients; i++ {
		clients = append(clients, start("client", nil,
			"-out", c.out, "-index", strconv.Itoa(i),
			"-v4", sp[0], "-v6", sp[1], "-backlog-v4", bp[0], "-backlog-v6", bp[1],
			"-refused-port", strconv.Itoa(c.refusedPort),
			"-conns", strconv.Itoa(c.conns), "-refused", strconv.Itoa(c.refused), "-backlog", strconv.Itoa(c.backlog),
			"-seed", strconv.FormatInt(c.seed, 10)))
	}
	for _, cl := range clients {
		cl.wait()
	}

	// Every served connection is over once no socket is left between
	// SYN_SENT and LAST_ACK; the never-accepted ones wait in CLOSE_WAIT
	// (their clients' FINs acknowledged: no FIN_WAIT1 left).
	backlogConns := c.clients * c.backlog
	waitStates(func(n map[int]int) bool {
		return n[stateCloseWait] == backlogConns && n[stateSynSent]+n[stateSynRecv]+n[stateEstablished]+
			n[stateFinWait1]+n[stateLastAck]+n[stateClosing] == 0
	}, fmt.Sprintf("%d sockets in CLOSE_WAIT and none in SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, LAST_ACK or CLOSING", backlogConns))

	bl.stop()
	waitStates(func(n map[int]int) bool { return n[stateCloseWait] == 0 }, "no socket in CLOSE_WAIT")
	srv.stop()
	waitStates(func(n map[int]int) bool { return n[stateListen] == 0 }, "no listener")
	fmt.Println("done")
}

// server is the pre-fork parent: it listens and hands the listeners to
// the acceptors, which alone accept.
func server(out string, acceptors int) {
	rec := newRecorder(out)
	defer rec.close()
	l4, l6 := listenPair()
	f4, err := l4.(*net.TCPListener).File()
	if err != nil {
		fatalf("%v", err)
	}
	f6, err := l6.(*net.TCPListener).File()
	if err != nil {
		fatalf("%v", err)
	}
	var kids []*child
	for range acceptors {
		kids = append(kids, start("acceptor", []*os.File{f4, f6}, "-out", out))
	}
	for _, k := range kids {
		k.ready()
	}
	f4.Close()
	f6.Close()
	p4, p6 := port(l4.Addr()), port(l6.Addr())
	rec.write(&record.Record{Type: record.TypeProc, Role: record.RoleServer, V4Port: p4, V6Port: p6})
	fmt.Printf("ready %d %d\n", p4, p6)

	waitStdinEOF()
	for _, k := range kids {
		k.stop()
	}
	l4.Close()
	l6.Close()
}

// listenPair listens on 127.0.0.1:0 and [::1]:0 (v6 only), plain TCP:
// since Go 1.24 a ListenConfig would otherwise make MPTCP listeners.
func listenPair() (net.Listener, net.Listener) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l4, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	l6, err := lc.Listen(context.Background(), "tcp6", "[::1]:0")
	if err != nil {
		fatalf("%v", err)
	}
	return l4, l6
}

func port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// acceptor serves the connections it accepts on fds 3 and 4, each in its
// own goroutine, until its stdin reaches EOF; then it stops accepting and
// waits for the connections it is serving.
func acceptor(out string) {
	rec := newRecorder(out)
	defer rec.close()
	var lns []net.Listener
	for fd, name := range map[uintptr]string{3: "v4", 4: "v6"} {
		f := os.NewFile(fd, name)
		ln, err := net.FileListener(f)
		if err != nil {
			fatalf("listener on fd %d: %v", fd, err)
		}
		f.Close()
		lns = append(lns, ln)
	}
	var wg sync.WaitGroup
	var loops sync.WaitGroup
	for _, ln := range lns {
		loops.Add(1)
		go func() {
			defer loops.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					fatalf("accept: %v", err)
				}
				open := monoNs()
				wg.Add(1)
				go func() {
					defer wg.Done()
					serve(rec, c.(*net.TCPConn), open)
				}()
			}
		}()
	}
	fmt.Println("ready")
	waitStdinEOF()
	for _, ln := range lns {
		ln.Close()
	}
	loops.Wait()
	wg.Wait()
}

// serve is the server side of a normal connection: read the header and
// the client's payload, send the reply, then close first or wait for the
// client's FIN, as the header says.
func serve(rec *recorder, c *net.TCPConn, open int64) {
	r := &record.Record{Type: record.TypeConn, Role: record.RoleAcceptor, Kind: record.KindNormal, StartNs: open, OpenNs: open}
	fillTuple(r, c)
	r.Cookie = cookieOf(c)
	var hdr [record.HeaderLen]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		fatalf("reading the header from port %d: %v", r.RPort, err)
	}
	r.ID = binary.BigEndian.Uint32(hdr[0:])
	a := int64(binary.BigEndian.Uint32(hdr[4:]))
	b := int64(binary.BigEndian.Uint32(hdr[8:]))
	r.Closer = record.CloserClient
	if hdr[12] == 1 {
		r.Closer = record.CloserServer
	}
	n, err := io.CopyN(io.Discard, c, a)
	r.Recv = record.HeaderLen + n
	if err != nil {
		fatalf("connection %#x: read %d of %d bytes: %v", r.ID, n, a, err)
	}
	m, err := c.Write(payload(b))
	r.Sent = int64(m)
	if err != nil {
		fatalf("connection %#x: wrote %d of %d bytes: %v", r.ID, m, b, err)
	}
	if r.Closer == record.CloserClient {
		extra, err := io.Copy(io.Discard, c)
		if err != nil || extra != 0 {
			fatalf("connection %#x: waiting for EOF: %d more bytes, %v", r.ID, extra, err)
		}
	}
	r.CloseNs = monoNs()
	if err := c.Close(); err != nil {
		fatalf("connection %#x: close: %v", r.ID, err)
	}
	r.EndNs = monoNs()
	rec.write(r)
}

// backlog listens and never accepts: its connections stay in the accept
// queue until it closes the listeners (at stdin EOF), which resets them.
func backlog(out string) {
	rec := newRecorder(out)
	defer rec.close()
	l4, l6 := listenPair()
	p4, p6 := port(l4.Addr()), port(l6.Addr())
	rec.write(&record.Record{Type: record.TypeProc, Role: record.RoleBacklog, V4Port: p4, V6Port: p6})
	fmt.Printf("ready %d %d\n", p4, p6)
	waitStdinEOF()
	l4.Close()
	l6.Close()
}

type clientConfig struct {
	index                   int
	v4Port, v6Port          int
	backlogV4, backlogV6    int
	refusedPort             int
	conns, refused, backlog int
	seed                    int64
}

type op struct {
	kind   string
	v6     bool
	a, b   int64 // payload sizes: client to server, server to client
	closer string
}

// client makes its connections one after the other, in a shuffled order.
func client(out string, c *clientConfig) {
	rec := newRecorder(out)
	defer rec.close()
	rng := rand.New(rand.NewPCG(uint64(c.seed), uint64(c.index)))
	size := func(limit int64) int64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return rng.Int64N(3) // 0, 1 or 2: one-byte edge cases
		}
		return rng.Int64N(limit + 1)
	}
	var ops []op
	for i := range c.conns {
		o := op{kind: record.KindNormal, v6: rng.IntN(3) == 0, a: size(100000), b: size(100000), closer: record.CloserClient}
		if i%2 == 1 {
			o.closer = record.CloserServer
		}
		ops = append(ops, o)
	}
	for i := range c.refused {
		ops = append(ops, op{kind: record.KindRefused, v6: i%2 == 1})
	}
	for i := range c.backlog {
		// Small enough for the receive buffer of a socket nobody reads.
		ops = append(ops, op{kind: record.KindBacklog, v6: i%2 == 1, a: size(10000)})
	}
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	for i, o := range ops {
		id := uint32(c.index)<<16 | uint32(i+1)
		rec.write(dialOne(c, id, o))
	}
}

func dialOne(c *clientConfig, id uint32, o op) *record.Record {
	r := &record.Record{Type: record.TypeConn, Role: record.RoleClient, Kind: o.kind, ID: id, Family: "inet", RAddr: "127.0.0.1"}
	network := "tcp4"
	if o.v6 {
		network, r.Family, r.RAddr = "tcp6", "inet6", "::1"
	}
	switch o.kind {
	case record.KindNormal:
		r.RPort = c.v4Port
		if o.v6 {
			r.RPort = c.v6Port
		}
		r.Closer = o.closer
	case record.KindBacklog:
		r.RPort = c.backlogV4
		if o.v6 {
			r.RPort = c.backlogV6
		}
		r.Closer = record.CloserClient
	case record.KindRefused:
		r.RPort = c.refusedPort
	}
	// The cookie is read before connect: the socket's identity from its
	// first state change on, whether or not the connect succeeds.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var cerr error
		if err := rc.Control(func(fd uintptr) {
			r.Cookie, cerr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
		}); err != nil {
			return err
		}
		return cerr
	}}
	d.SetMultipathTCP(false)
	r.StartNs = monoNs()
	conn, err := d.Dial(network, net.JoinHostPort(r.RAddr, strconv.Itoa(r.RPort)))
	r.OpenNs = monoNs()
	if o.kind == record.KindRefused {
		if !errors.Is(err, syscall.ECONNREFUSED) {
			fatalf("connection %#x to port %d: want ECONNREFUSED, got %v", id, r.RPort, err)
		}
		r.Err = "ECONNREFUSED"
		r.CloseNs, r.EndNs = r.OpenNs, r.OpenNs
		return r
	}
	if err != nil {
		fatalf("connection %#x: %v", id, err)
	}
	tc := conn.(*net.TCPConn)
	fillTuple(r, tc)

	hdrLen := int64(0)
	if o.kind == record.KindNormal {
		var hdr [record.HeaderLen]byte
		binary.BigEndian.PutUint32(hdr[0:], id)
		binary.BigEndian.PutUint32(hdr[4:], uint32(o.a))
		binary.BigEndian.PutUint32(hdr[8:], uint32(o.b))
		if o.closer == record.CloserServer {
			hdr[12] = 1
		}
		if _, err := tc.Write(hdr[:]); err != nil {
			fatalf("connection %#x: header: %v", id, err)
		}
		hdrLen = record.HeaderLen
	}
	n, err := tc.Write(payload(o.a))
	r.Sent = hdrLen + int64(n)
	if err != nil {
		fatalf("connection %#x: wrote %d of %d bytes: %v", id, n, o.a, err)
	}
	if o.kind == record.KindNormal {
		m, err := io.CopyN(io.Discard, tc, o.b)
		r.Recv = m
		if err != nil {
			fatalf("connection %#x: read %d of %d bytes: %v", id, m, o.b, err)
		}
		if o.closer == record.CloserServer {
			extra, err := io.Copy(io.Discard, tc)
			if err != nil || extra != 0 {
				fatalf("connection %#x: waiting for the server's FIN: %d more bytes, %v", id, extra, err)
			}
		}
	}
	r.CloseNs = monoNs()
	if err := tc.Close(); err != nil {
		fatalf("connection %#x: close: %v", id, err)
	}
	r.EndNs = monoNs()
	return r
}

var payloadBuf = make([]byte, 100001)

func payload(n int64) []byte { return payloadBuf[:n] }

// fillTuple records the connection's family and addresses as bpfnetstat
// prints them.
func fillTuple(r *record.Record, c *net.TCPConn) {
	l, p := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	r.Family = "inet"
	if l.IP.To4() == nil {
		r.Family = "inet6"
	}
	r.LAddr, r.LPort = l.IP.String(), l.Port
	r.RAddr, r.RPort = p.IP.String(), p.Port
}

// cookieOf is the socket's cookie (SO_COOKIE).
func cookieOf(c *net.TCPConn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		fatalf("%v", err)
	}
	var cookie uint64
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cookie, cerr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	}); err != nil {
		fatalf("%v", err)
	}
	if cerr != nil {
		fatalf("SO_COOKIE: %v", cerr)
	}
	return cookie
}
