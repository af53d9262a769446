// Command churn is the workload of the tracer tests (e2e/tracer_test.go): in
// the network namespace it runs in, a pre-fork server and several client
// processes make a few hundred short TCP connections over 127.0.0.1 and
// [::1] with known payload sizes, some closed first by the client and some
// by the server, plus connections that are refused (no listener) and
// connections that a listener never accepts.
//
// Every process writes what it did, one JSON line per socket
// (record.Record), to a file of its own in the -out directory: its PID, the
// socket's cookie (SO_COOKIE) and 4-tuple, the payload bytes it wrote and
// read, who closed first and CLOCK_MONOTONIC times around connect, accept
// and close. The test then holds bpfnetstat's output against these files.
//
// Roles, each a process (argv[1]):
//
//	run       the orchestrator (started by the test): starts the others, waits
//	          for the kernel to settle, stops them, prints "done"
//	server    the pre-fork parent: listens on 127.0.0.1:0 and [::1]:0, then
//	          starts the acceptors and never accepts itself
//	acceptor  a pre-fork child: accepts on the inherited listeners (fds 3, 4)
//	backlog   listens on 127.0.0.1:0 and [::1]:0 and never accepts
//	client    makes its share of the connections, one after the other
//
// Clients exit when their connections are done; the listening processes
// (and the acceptors) stop when their stdin reaches EOF, which Pdeathsig
// backs up. The workload never sleeps to synchronise: it waits for the
// socket states it needs in /proc/net/tcp and tcp6.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/e2e/internal/churn/record"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: churn run|server|acceptor|backlog|client [flags]")
	}
	role, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	out := fs.String("out", "", "directory for the JSON-lines record files (must exist)")
	switch role {
	case "run":
		var c runConfig
		fs.IntVar(&c.acceptors, "acceptors", 4, "pre-fork children that accept")
		fs.IntVar(&c.clients, "clients", 6, "client processes")
		fs.IntVar(&c.conns, "conns", 50, "served connections per client")
		fs.IntVar(&c.refused, "refused", 4, "refused connects per client")
		fs.IntVar(&c.backlog, "backlog", 4, "never-accepted connections per client")
		fs.Int64Var(&c.seed, "seed", 1, "seed of the sizes, families and close orders")
		fs.IntVar(&c.refusedPort, "refused-port", 1, "a port nothing listens on")
		fs.Parse(args)
		c.out = *out
		mustDir(c.out)
		run(&c)
	case "server":
		n := fs.Int("acceptors", 4, "pre-fork children that accept")
		fs.Parse(args)
		mustDir(*out)
		server(*out, *n)
	case "acceptor":
		fs.Parse(args)
		mustDir(*out)
		acceptor(*out)
	case "backlog":
		fs.Parse(args)
		mustDir(*out)
		backlog(*out)
	case "client":
		var c clientConfig
		fs.IntVar(&c.index, "index", 1, "client number (1..), the high half of connection ids")
		fs.IntVar(&c.v4Port, "v4", 0, "served port on 127.0.0.1")
		fs.IntVar(&c.v6Port, "v6", 0, "served port on ::1")
		fs.IntVar(&c.backlogV4, "backlog-v4", 0, "never-accepting port on 127.0.0.1")
		fs.IntVar(&c.backlogV6, "backlog-v6", 0, "never-accepting port on ::1")
		fs.IntVar(&c.refusedPort, "refused-port", 1, "a port nothing listens on")
		fs.IntVar(&c.conns, "conns", 50, "served connections")
		fs.IntVar(&c.refused, "refused", 4, "refused connects")
		fs.IntVar(&c.backlog, "backlog", 4, "never-accepted connections")
		fs.Int64Var(&c.seed, "seed", 1, "seed")
		fs.Parse(args)
		mustDir(*out)
		client(*out, &c)
	default:
		fatalf("unknown role %q", role)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "churn[%d] %s: %s\n", os.Getpid(), roleName(), fmt.Sprintf(format, args...))
	os.Exit(1)
}

func roleName() string {
	if len(os.Args) > 1 {
		return os.Args[1]
	}
	return "?"
}

func mustDir(dir string) {
	if dir == "" {
		fatalf("-out is required")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fatalf("-out %s: not a directory", dir)
	}
}

// monoNs is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func monoNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		fatalf("clock_gettime: %v", err)
	}
	return ts.Nano()
}

// recorder appends records to the process's own file, one write per line,
// so that a record is on disk as soon as the socket it describes is closed.
type recorder struct {
	mu sync.Mutex
	f  *os.File
}

func newRecorder(dir string) *recorder {
	name := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", roleName(), os.Getpid()))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		fatalf("%v", err)
	}
	return &recorder{f: f}
}

func (r *recorder) write(rec *record.Record) {
	rec.PID = os.Getpid()
	b, err := json.Marshal(rec)
	if err != nil {
		fatalf("%v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.f.Write(append(b, '\n')); err != nil {
		fatalf("writing records: %v", err)
	}
}

func (r *recorder) close() {
	if err := r.f.Close(); err != nil {
		fatalf("closing records: %v", err)
	}
}

// child is a started workload process: its stdin (closed to stop it) and
// its stdout (where it announces itself).
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// start re-executes churn in a role. extra become fds 3, 4, ...
func start(role string, extra []*os.File, args ...string) *child {
	self, err := os.Executable()
	if err != nil {
		fatalf("%v", err)
	}
	cmd := exec.Command(self, append([]string{role}, args...)...)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{cmd: cmd}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		fatalf("%v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	c.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		fatalf("starting %s: %v", role, err)
	}
	return c
}

// ready reads the child's announcement line, e.g. "ready 41000 41001".
func (c *child) ready() []string {
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.cmd.Wait()
		fatalf("%s did not get ready: %v (%v)", c.cmd.Args[1], err, c.cmd.ProcessState)
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "ready" {
		fatalf("%s: unexpected announcement %q", c.cmd.Args[1], line)
	}
	return f[1:]
}

// stop closes the child's stdin and waits for it to exit cleanly.
func (c *child) stop() {
	c.stdin.Close()
	c.wait()
}

func (c *child) wait() {
	io.Copy(io.Discard, c.out)
	if err := c.cmd.Wait(); err != nil {
		fatalf("%s (pid %d): %v", c.cmd.Args[1], c.cmd.Process.Pid, err)
	}
}

// waitStdinEOF blocks until the parent closes our stdin.
func waitStdinEOF() {
	io.Copy(io.Discard, os.Stdin)
}
