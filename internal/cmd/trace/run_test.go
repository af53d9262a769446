package trace

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// lockedBuffer is a writer the run and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// failingWriter takes ok bytes, then fails every write with err.
type failingWriter struct {
	mu     sync.Mutex
	ok     int
	err    error
	failed bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(p) <= f.ok {
		f.ok -= len(p)
		return len(p), nil
	}
	n := f.ok
	f.ok = 0
	f.failed = true
	return n, f.err
}

func testEnv(stdout, stderr io.Writer) cmdutil.Env {
	return cmdutil.Env{Stdout: stdout, Stderr: stderr, ProcRoot: "/proc", Getenv: func(string) string { return "" }, Geteuid: os.Geteuid}
}

// connections makes n loopback connections to a listener of its own, each
// accepted, written to and closed, and returns the listener's port.
func connections(t *testing.T, n int) int {
	t.Helper()
	port, err := makeConnections(n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// makeConnections makes n loopback connections, holding them open for
// hold (long enough for the /proc polling fallback to see them).
func makeConnections(n int, hold time.Duration) (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return 0, err
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			return 0, err
		}
		c.Write([]byte("ping"))
		s.Read(make([]byte, 4))
		conns = append(conns, c, s)
	}
	time.Sleep(hold)
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// TestWriteErrorEndsRun: trace and life, text and JSON, stop at the first
// write that fails (the header, or the first record when there is none)
// with "writing output: <reason>", well before their --duration; as root
// through the tracer, else through the /proc polling fallback.
func TestWriteErrorEndsRun(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EPIPE} {
		for _, life := range []bool{false, true} {
			for _, js := range []bool{false, true} {
				fw := &failingWriter{err: errno}
				var stderr lockedBuffer
				o := &TraceOptions{Env: testEnv(fw, &stderr), JSON: js, Life: life, Interval: 100 * time.Millisecond, Duration: 20 * time.Second}
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- TraceRun(o) }()
				// JSON has no header: the first record is the first write.
				stopTraffic := make(chan struct{})
				go func() {
					for {
						select {
						case <-stopTraffic:
							return
						default:
							if _, err := makeConnections(5, 300*time.Millisecond); err != nil {
								return
							}
						}
					}
				}()
				var err error
				select {
				case err = <-done:
				case <-time.After(15 * time.Second):
					t.Fatalf("%v life=%v json=%v: still running 15 s after its output failed; stderr:\n%s", errno, life, js, stderr.String())
				}
				close(stopTraffic)
				want := "writing output: " + errno.Error()
				if err == nil || err.Error() != want || !errors.Is(err, errno) {
					t.Errorf("%v life=%v json=%v: error %v, want %q", errno, life, js, err, want)
				}
				var code strings.Builder
				if got := cmdutil.ExitCode(err, &code); got == 0 || code.String() != "bpfnetstat: "+want+"\n" {
					t.Errorf("exit status %d, message %q", got, code.String())
				}
				t.Logf("%v life=%v json=%v: ended after %v", errno, life, js, time.Since(start).Round(time.Millisecond))
			}
		}
	}
}

// requireRoot skips a test that needs the tracer when not root, and fails
// it instead when BPFNETSTAT_REQUIRE_ROOT=1.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
		t.Fatal("tracing needs root, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping")
	}
	t.Skip("tracing needs root")
}

// TestWriteErrorMidStream: a write that fails after the header went out
// ends the run too.
func TestWriteErrorMidStream(t *testing.T) {
	requireRoot(t)
	fw := &failingWriter{ok: 400, err: syscall.ENOSPC} // the life header, not a record
	var stderr lockedBuffer
	o := &TraceOptions{Env: testEnv(fw, &stderr), Life: true, Interval: time.Second, Duration: 20 * time.Second}
	done := make(chan error, 1)
	go func() { done <- TraceRun(o) }()
	waitAttached(t, &stderr)
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; {
		connections(t, 5)
		select {
		case err = <-done:
		case <-time.After(100 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatalf("still running after 15 s of connections; stderr:\n%s", stderr.String())
		}
		break
	}
	if err == nil || err.Error() != "writing output: no space left on device" {
		t.Errorf("error %v", err)
	}
	// The loss line still closes the run.
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); !strings.Contains(lines[len(lines)-1], " events, lost: ") {
		t.Errorf("stderr does not end with the loss line:\n%s", stderr.String())
	}
}

func waitAttached(t *testing.T, stderr *lockedBuffer) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if first, _, ok := strings.Cut(stderr.String(), "\n"); ok {
			if !strings.HasPrefix(first, "bpfnetstat: tracing TCP connections (") {
				t.Fatalf("not attached: %s", first)
			}
			return first
		}
	}
	t.Fatal("no start line within 20 s")
	return ""
}

// TestNoAcceptHookDegrades: without an accept hook (skipped through the
// tracer's configuration, as too few open files or a kernel without
// tracefs and BTF leave it) life says in its start line which owners
// degrade and why, and every server connection's record says its owner
// is the listener's, released at once; with the hook, the same
// connections are "accept".
func TestNoAcceptHookDegrades(t *testing.T) {
	requireRoot(t)
	for _, skip := range []bool{false, true} {
		var stdout, stderr lockedBuffer
		o := &TraceOptions{Env: testEnv(&stdout, &stderr), Life: true, JSON: true, Interval: time.Second, Duration: 2 * time.Second, skipAccept: skip}
		done := make(chan error, 1)
		go func() { done <- TraceRun(o) }()
		start := waitAttached(t, &stderr)
		port := connections(t, 10)
		if err := <-done; err != nil {
			t.Fatalf("skip accept %v: %v", skip, err)
		}
		degraded := strings.Contains(start, "; degraded: no accept hook attached (lsm/sock_graft: not attached: the configuration skips this role): "+
			`a connection accepted by another process than the listener's owner (the children of a pre-fork server) is credited to the listener's owner, owner_source "listener"; Ctrl-C to stop`)
		if degraded != skip {
			t.Errorf("skip accept %v: start line %q", skip, start)
		}
		want := "accept"
		if skip {
			want = "listener"
		}
		n := 0
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			var r struct {
				LPort       int    `json:"lport"`
				Direction   string `json:"direction"`
				OwnerSource string `json:"owner_source"`
				PID         int    `json:"pid"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%v: %s", err, sc.Text())
			}
			if r.LPort != port || r.Direction != "passive" {
				continue
			}
			n++
			if r.OwnerSource != want || r.PID != os.Getpid() {
				t.Errorf("skip accept %v: server record %s, want owner_source %q and pid %d", skip, sc.Text(), want, os.Getpid())
			}
		}
		if n != 10 {
			t.Errorf("skip accept %v: %d server records of port %d, want 10:\n%s", skip, n, port, stdout.String())
		}
	}
}
