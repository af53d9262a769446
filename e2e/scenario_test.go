package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// maxFarmAge bounds how long a farm is used. Its TIME_WAIT and orphaned
// FIN_WAIT2 sockets vanish 60 s after creation; a case must never straddle
// that, so an older farm is replaced (with a fresh namespace) first.
const maxFarmAge = 40 * time.Second

// scenario is one namespace, optionally with a running farm.
type scenario struct {
	bins *binaries
	opts scenarioOpts

	mu      sync.Mutex
	ns      *netns
	farm    *farmProc
	sockDir string
	readyAt time.Time
}

type scenarioOpts struct {
	// farm starts the socket farm; without it the namespace holds only
	// what setup makes.
	farm bool
	// nobody adds the farm child that runs as uid 65534 and owns a
	// listener.
	nobody bool
	// hostile adds names with control characters, newlines and bytes
	// that are not UTF-8.
	hostile bool
	// setup runs after the namespace exists (e.g. to add links and routes).
	setup func(ns string) error
}

var scenarioSeq struct {
	sync.Mutex
	n int
}

// newScenario builds a scenario for t and tears it down when t ends.
func newScenario(t *testing.T, opts scenarioOpts) *scenario {
	t.Helper()
	s := &scenario{bins: getBinaries(t), opts: opts}
	t.Cleanup(s.teardown)
	s.start(t)
	return s
}

func (s *scenario) start(t *testing.T) {
	t.Helper()
	s.ns = newNetns(t)
	if s.opts.setup != nil {
		if err := s.opts.setup(s.ns.name); err != nil {
			t.Fatalf("setting up namespace %s: %v", s.ns.name, err)
		}
	}
	if !s.opts.farm {
		s.readyAt = time.Now()
		return
	}
	scenarioSeq.Lock()
	scenarioSeq.n++
	s.sockDir = filepath.Join(workRoot, fmt.Sprintf("s%d", scenarioSeq.n))
	scenarioSeq.Unlock()
	if err := os.Mkdir(s.sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := startFarm(s.ns.name, s.bins.farm, s.sockDir, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	s.farm = f
	s.readyAt = time.Now()
}

// fresh replaces the namespace and farm when they are too old for a case
// that takes up to need.
func (s *scenario) fresh(t *testing.T, need time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.farm {
		return
	}
	if s.farm == nil {
		t.Fatal("no farm: replacing it failed earlier")
	}
	s.farm.alive(t)
	if time.Since(s.readyAt)+need < maxFarmAge {
		return
	}
	t.Logf("replacing a farm that is %v old", time.Since(s.readyAt).Round(time.Second))
	s.stop(t)
	s.start(t)
}

func (s *scenario) teardown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop(nil)
}

func (s *scenario) stop(t *testing.T) {
	if s.farm != nil && os.Getenv(envKeep) != "1" {
		s.farm.stop()
		s.farm = nil
	}
	if s.ns != nil {
		if err := s.ns.close(); err != nil && t != nil {
			t.Error(err)
		}
		s.ns = nil
	}
	if s.sockDir != "" && os.Getenv(envKeep) != "1" {
		os.RemoveAll(s.sockDir)
	}
}

// farmProc is a running farm (internal/farm) inside a namespace.
type farmProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	// exited is closed when the farm process has ended.
	exited chan struct{}
	// reported is set once a death has been reported in full.
	reported atomic.Bool
}

// startFarm runs the farm in namespace ns and waits for its "ready" line.
func startFarm(ns, bin, sockDir string, opts scenarioOpts) (*farmProc, error) {
	args := []string{"netns", "exec", ns, bin, "-dir", sockDir}
	if opts.nobody {
		args = append(args, "-nobody")
	}
	if opts.hostile {
		args = append(args, "-hostile")
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	// Its own process group, so stop can kill the farm and its children
	// at once whatever their uids.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	f := &farmProc{cmd: cmd, stderr: new(bytes.Buffer), exited: make(chan struct{})}
	cmd.Stderr = f.stderr
	var err error
	if f.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(f.exited)
	}()
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if line == "ready\n" {
			ready <- nil
			return
		}
		ready <- fmt.Errorf("read %q (%v)", line, err)
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = fmt.Errorf("no line within 30s")
	}
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("farm in %s did not get ready: %v\nfarm stderr:\n%s", ns, err, f.stderr)
	}
	return f, nil
}

// alive fails t when the farm ended before it was stopped: the sockets the
// cases are about would be gone, and both sides would agree on nothing.
func (f *farmProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-f.exited:
		if f.reported.Swap(true) {
			t.Fatal("the farm died earlier (reported above)")
		}
		t.Fatalf("the farm died (%s):\n%s", f.cmd.ProcessState, f.stderr)
	default:
	}
}

func (f *farmProc) stop() {
	f.stdin.Close()
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	<-f.exited
}

// side says which implementation runs.
type side int

const (
	realSide side = iota
	oursSide
)

func (w side) String() string {
	if w == realSide {
		return "netstat"
	}
	return "bpfnetstat"
}

// invocation is one way of running netstat ARGS.
type invocation struct {
	args []string
	// env is added to the base environment (PATH, LC_ALL=C).
	env []string
	// nobody runs netstat as uid/gid 65534 without supplementary groups.
	nobody bool
	// continuous runs it under `timeout --preserve-status -s INT 4.5`.
	continuous bool
	// bpfnetstat runs our side under its own name instead of netstat's:
	// for what only bpfnetstat takes (--json), which the netstat name
	// refuses as net-tools does.
	bpfnetstat bool
	// expect, when set, maps the real netstat's result to what bpfnetstat
	// must print: only for bpfnetstat's documented, intended differences.
	expect func(result) result
}

func (inv invocation) String() string {
	var parts []string
	parts = append(parts, inv.env...)
	if inv.nobody {
		parts = append(parts, "[as nobody]")
	}
	parts = append(parts, "netstat")
	for _, a := range inv.args {
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// continuousFor is how long -c cases run before SIGINT: long enough for
// three iterations (netstat sleeps 1 s between them), so two are complete.
const continuousFor = "4.5" // two complete iterations even on a loaded 2-core machine

// result is what one run produced.
type result struct {
	stdout, stderr string
	// status is "exit status N" or "signal: NAME".
	status string
}

// run runs netstat (real or ours) in the scenario's namespace with argv[0]
// "netstat", as `ip netns exec` resolves it through PATH.
func (s *scenario) run(t *testing.T, who side, inv invocation) result {
	t.Helper()
	r, err := s.runErr(who, inv)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runErr is run for goroutines, which must not call t.Fatal.
func (s *scenario) runErr(who side, inv invocation) (result, error) {
	s.mu.Lock()
	if s.ns == nil {
		s.mu.Unlock()
		return result{}, fmt.Errorf("no namespace: replacing it failed earlier")
	}
	ns := s.ns.name
	s.mu.Unlock()
	args := []string{"netns", "exec", ns}
	if inv.nobody {
		args = append(args, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
	}
	if inv.continuous {
		args = append(args, "timeout", "--preserve-status", "-s", "INT", continuousFor)
	}
	if who == oursSide && inv.bpfnetstat {
		args = append(args, "bpfnetstat")
	} else {
		args = append(args, "netstat")
	}
	args = append(args, inv.args...)
	path := "/usr/bin:/bin:/usr/sbin:/sbin"
	if who == oursSide {
		path = s.bins.oursDir + ":" + path
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = []string{"PATH=" + path, "LC_ALL=C"}
	if who == oursSide {
		// -p's owners from the task_file iterator even with the few files
		// open here (a case's env may ask for the /proc walk instead).
		cmd.Env = append(cmd.Env, "BPFNETSTAT_OWNERS=iter")
	}
	cmd.Env = append(cmd.Env, inv.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("%s: %v", who, err)
	}
	// A hung run (e.g. a name lookup that escaped the private files) must
	// not hang the suite.
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return result{}, fmt.Errorf("%s: %v", who, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.String()}, nil
}
