// Command churn is bpfnetstat's loopback connection-churn load generator:
// as many short TCP connections per second as this machine sustains, each
// one connect -> write a few bytes -> read the reply -> close, against an
// accept loop with several acceptors. scripts/bench-churn.sh runs it with
// the tracer off and on.
//
// The parent re-executes itself as -procs worker processes (one per core by
// default: a process may hold only so many files, and one single-threaded Go
// runtime per core beats one runtime for all). Each worker runs -clients
// client goroutines and -acceptors acceptor goroutines on its own
// SO_REUSEPORT listener on -port. Sockets go through Go's netpoller with
// TCP keep-alive off: on this kind of load, blocking system calls in threads
// measured about 40% slower (a context switch per wait instead of a
// goroutine switch). An acceptor serves each connection inline. Clients
// spread their connections over the destinations 127.0.0.1 .. 127.0.0.<-dsts>
// so that the 4-tuples, and so the ephemeral ports, are not all taken by one
// destination. With -rate, clients pace themselves to that many connections
// per second in all, to find the churn a tracer keeps up with.
//
// The workers signal "ready" once they listen; the parent then starts them
// all at once (a line on their stdin). Each runs its clients for -duration,
// lets the connections in flight finish, reports its count and keeps serving
// until the parent says every worker is done (EOF on stdin), so that no
// client ever meets a listener that went away. The parent prints one line:
//
//	churn: connections=N errors=E seconds=S conn_per_s=R procs=P clients=C acceptors=A
//
// where N counts completed connections (reply received), E failed ones and
// S is the time from the start to the last worker's last connection.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	duration  time.Duration
	procs     int
	threads   int
	clients   int
	acceptors int
	port      int
	dsts      int
	payload   int
	rate      float64
}

func main() {
	var c config
	worker := flag.Bool("worker", false, "internal: run as a worker process")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long clients keep opening connections")
	flag.IntVar(&c.procs, "procs", runtime.NumCPU(), "worker processes")
	flag.IntVar(&c.threads, "threads", 1, "GOMAXPROCS of each worker")
	flag.IntVar(&c.clients, "clients", 16, "client goroutines per worker (one connection in flight each)")
	flag.IntVar(&c.acceptors, "acceptors", 4, "acceptor goroutines per worker")
	flag.IntVar(&c.port, "port", 7777, "TCP port of the listeners (0.0.0.0, SO_REUSEPORT)")
	flag.IntVar(&c.dsts, "dsts", 16, "spread connections over 127.0.0.1 .. 127.0.0.N")
	flag.IntVar(&c.payload, "payload", 16, "bytes sent each way per connection")
	flag.Float64Var(&c.rate, "rate", 0, "connections/s in all, paced (0: as many as possible)")
	flag.Parse()
	if flag.NArg() > 0 || c.procs < 1 || c.threads < 1 || c.clients < 1 || c.acceptors < 1 || c.dsts < 1 || c.dsts > 254 ||
		c.payload < 1 || c.payload > 1024 || c.rate < 0 || c.port < 1 || c.port > 65535 || c.duration <= 0 {
		fmt.Fprintln(os.Stderr, "churn: bad arguments (see -h)")
		os.Exit(2)
	}
	var err error
	if *worker {
		err = runWorker(c)
	} else {
		err = runParent(c)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "churn: %v\n", err)
		os.Exit(1)
	}
}

// workerProc is the parent's handle on one worker.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// line reads the worker's next stdout line.
func (w *workerProc) line() (string, error) {
	if w.out.Scan() {
		return w.out.Text(), nil
	}
	if err := w.out.Err(); err != nil {
		return "", err
	}
	return "", io.ErrUnexpectedEOF
}

func runParent(c config) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-worker",
		"-duration", c.duration.String(), "-threads", strconv.Itoa(c.threads), "-clients", strconv.Itoa(c.clients),
		"-acceptors", strconv.Itoa(c.acceptors), "-port", strconv.Itoa(c.port),
		"-dsts", strconv.Itoa(c.dsts), "-payload", strconv.Itoa(c.payload),
		"-rate", strconv.FormatFloat(c.rate/float64(c.procs), 'g', -1, 64)}
	workers := make([]*workerProc, 0, c.procs)
	defer func() {
		for _, w := range workers {
			w.stdin.Close()
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	}()
	for i := 0; i < c.procs; i++ {
		cmd := exec.Command(self, args...)
		cmd.Stderr = os.Stderr
		// Workers die with the parent, whatever kills it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		workers = append(workers, &workerProc{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)})
	}
	for i, w := range workers {
		if l, err := w.line(); err != nil || l != "ready" {
			return fmt.Errorf("worker %d did not get ready (%q, %v)", i, l, err)
		}
	}
	for _, w := range workers {
		if _, err := io.WriteString(w.stdin, "go\n"); err != nil {
			return err
		}
	}
	var conns, errs uint64
	var secs float64
	for i, w := range workers {
		l, err := w.line()
		if err != nil {
			return fmt.Errorf("worker %d: %v", i, err)
		}
		var n, e uint64
		var s float64
		if _, err := fmt.Sscanf(l, "done %d %d %g", &n, &e, &s); err != nil {
			return fmt.Errorf("worker %d: bad report %q", i, l)
		}
		conns += n
		errs += e
		secs = max(secs, s)
	}
	fmt.Printf("churn: connections=%d errors=%d seconds=%.3f conn_per_s=%.0f procs=%d clients=%d acceptors=%d\n",
		conns, errs, secs, float64(conns)/secs, c.procs, c.clients, c.acceptors)
	return nil
}

// counter is one goroutine's tally, alone on its cache line.
type counter struct {
	ok, failed atomic.Uint64
	_          [48]byte
}

func runWorker(c config) error {
	runtime.GOMAXPROCS(c.threads)
	lc := net.ListenConfig{KeepAlive: -1, Control: reusePort}
	ln, err := lc.Listen(context.Background(), "tcp4", fmt.Sprintf("0.0.0.0:%d", c.port))
	if err != nil {
		return err
	}
	for i := 0; i < c.acceptors; i++ {
		go serve(ln.(*net.TCPListener), c.payload)
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "go" {
		return errors.New("no start signal")
	}

	counts := make([]counter, c.clients)
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i := range counts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client(&counts[i], &stop, c, i)
		}(i)
	}
	time.Sleep(c.duration)
	stop.Store(true)
	wg.Wait()
	secs := time.Since(start).Seconds()
	var n, e uint64
	for i := range counts {
		n += counts[i].ok.Load()
		e += counts[i].failed.Load()
	}
	fmt.Printf("done %d %d %.6f\n", n, e, secs)
	// Keep serving the other workers' clients until the parent is done.
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// reusePort lets the workers' listeners share the port (SO_REUSEPORT; Go
// sets SO_REUSEADDR itself, for the TIME_WAIT sockets of earlier runs).
func reusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// serve is one acceptor: accept, read the request, write the reply, close,
// inline (a connection is over in microseconds; the other acceptors accept
// meanwhile).
func serve(ln *net.TCPListener, payload int) {
	buf := make([]byte, payload)
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			fmt.Fprintf(os.Stderr, "churn: accept: %v\n", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if _, err := io.ReadFull(conn, buf); err == nil {
			conn.Write(buf)
		}
		conn.Close()
	}
}

// client opens connections one after the other until stop.
func client(cnt *counter, stop *atomic.Bool, c config, id int) {
	req := make([]byte, c.payload)
	for i := range req {
		req[i] = 'a' + byte(i%26)
	}
	reply := make([]byte, c.payload)
	addrs := make([]string, c.dsts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.%d:%d", 1+i, c.port)
	}
	d := net.Dialer{KeepAlive: -1}
	dst := id % c.dsts
	lastErr := ""
	// With -rate, each client opens one connection every interval.
	var interval time.Duration
	next := time.Now()
	if c.rate > 0 {
		interval = time.Duration(float64(c.clients) / c.rate * 1e9)
		next = next.Add(time.Duration(id) * interval / time.Duration(c.clients))
	}
	for !stop.Load() {
		if interval > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(interval)
			if stop.Load() {
				break
			}
		}
		err := once(&d, addrs[dst], req, reply)
		if dst++; dst == c.dsts {
			dst = 0
		}
		if err != nil {
			cnt.failed.Add(1)
			if err.Error() != lastErr {
				lastErr = err.Error()
				fmt.Fprintf(os.Stderr, "churn: client: %v\n", err)
			}
			continue
		}
		cnt.ok.Add(1)
	}
}

// once is one connection's whole life.
func once(d *net.Dialer, addr string, req, reply []byte) error {
	conn, err := d.Dial("tcp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		return err
	}
	_, err = io.ReadFull(conn, reply)
	return err
}
