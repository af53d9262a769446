package e2e

// Kernel tests of the eBPF tracer: `bpfnetstat life --json` and
// `bpfnetstat trace --json` watch a private network namespace while the
// churn workload (internal/churn) makes a few hundred short connections in
// it: a pre-fork server (the parent listens, child processes accept),
// client processes sending known byte counts both ways, closes by either
// side first, refused connects and connections a listener never accepts,
// over 127.0.0.1 and [::1]. Every workload process writes down what it did
// (PIDs, socket cookies, 4-tuples, bytes, times); the tests hold the
// tracers' output against that:
//
//   - life: every socket of every connection exactly once, nothing else,
//     the owner's PID (the client on the active side, the accepting child on
//     the passive side, the listener's owner for a connection never
//     accepted), direction, owner source, exact payload bytes, the error of
//     a refused connect and a duration within what the workload measured;
//   - trace: each socket's exact transition sequence, every line with its
//     owner; the listeners' CLOSE -> LISTEN -> CLOSE with theirs;
//   - time-wait: each connection's active closer sits in TIME_WAIT (ss
//     prints the timewait socket's cookie, which it inherited from the full
//     socket) and life and trace name its owner under that cookie;
//   - both tracers print exactly their "tracing" and loss lines on stderr,
//     and the loss line reports nothing lost.
//
// They need root; they skip without it and fail instead when
// BPFNETSTAT_REQUIRE_ROOT=1. Everything runs in a namespace of their own
// (prefix trNsPrefix), removed afterwards, as are stale ones of dead runs.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/e2e/internal/churn/record"
)

// The workload's shape: 6 clients x (50 served + 4 refused + 4 never
// accepted) = 348 connections, 672 sockets that life must report.
const (
	trAcceptors   = 4
	trClients     = 6
	trConnsPer    = 50
	trRefusedPer  = 4
	trBacklogPer  = 4
	trRefusedPort = 1 // nothing listens there in a fresh namespace
)

const (
	trNsPrefix      = "bpftr-e2e-"
	trAttachTimeout = 30 * time.Second
	trStopTimeout   = 30 * time.Second
	trRunTimeout    = 60 * time.Second
	// trSlack is how much later than the workload saw it a socket may
	// reach CLOSE: the last ACK or FIN still has to cross loopback.
	trSlack = time.Second
)

// TestTracer runs the workload once under both tracers and checks their
// output in subtests.
func TestTracer(t *testing.T) { trRunWorkload(t, false) }

// TestTracerPIDNamespace runs the same workload and checks with the
// tracers and the workload inside one PID namespace of their own, with its
// own /proc, as in a container: every PID that trace and life print must
// be the namespace's number (the one the workload reports for itself), not
// the initial namespace's that the kernel's BPF helpers give.
func TestTracerPIDNamespace(t *testing.T) { trRunWorkload(t, true) }

func trRunWorkload(t *testing.T, inPIDNS bool) {
	trRequireRoot(t)
	testStart := time.Now()
	bins := trBuild(t)
	ns := trNewNetns(t)
	enter := []string{"ip", "netns", "exec", ns.name}
	if inPIDNS {
		enter = trNewPIDNamespace(t, ns)
	}

	// One after the other, so that each one's BPF programs are those that
	// appear while it starts.
	life := trStartTracer(t, enter, bins.ours, "life", "--json")
	trace := trStartTracer(t, enter, bins.ours, "trace", "--json")

	recDir := t.TempDir()
	runStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), trRunTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, enter[0], append(enter[1:], bins.churn, "run", "-out", recDir,
		"-acceptors", strconv.Itoa(trAcceptors), "-clients", strconv.Itoa(trClients),
		"-conns", strconv.Itoa(trConnsPer), "-refused", strconv.Itoa(trRefusedPer), "-backlog", strconv.Itoa(trBacklogPer),
		"-refused-port", strconv.Itoa(trRefusedPort), "-seed", "1")...).CombinedOutput()
	runWall := time.Since(runStart)
	if err != nil || strings.TrimSpace(string(out)) != "done" {
		t.Fatalf("churn run: %v\n%s", err, out)
	}
	ssOut, err := exec.Command("ip", "netns", "exec", ns.name, "ss", "-tanie", "state", "time-wait").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v\n%s", err, ssOut)
	}
	// Every socket but the TIME_WAIT ones should be gone now; one that is
	// not makes its last transitions after the tracers stop, which the
	// checks below would take for the tracers' loss.
	unsettled, err := exec.Command("ip", "netns", "exec", ns.name, "ss", "-tanie", "exclude", "time-wait").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v\n%s", err, unsettled)
	}
	if lines := strings.Split(strings.TrimSpace(string(unsettled)), "\n"); len(lines) > 1 {
		t.Logf("sockets not yet closed when the tracers stop (their last transitions come later):\n%s", unsettled)
	}
	life.readMisses()
	trace.readMisses()
	life.stop(t, syscall.SIGINT)
	trace.stop(t, syscall.SIGTERM)
	t.Logf("workload: %v; tracers from start to stop: %v", runWall.Round(time.Millisecond), time.Since(testStart).Round(time.Millisecond))

	w := trLoadWorkload(t, recDir, runWall)
	w.netns = ns.inode(t)
	w.from, w.to = testStart.Add(-time.Second), time.Now().Add(time.Second)
	lifeRows := trParseLines[trLifeRow](t, life.stdoutPath, trLifeFields)
	traceRows := trParseLines[trTraceRow](t, trace.stdoutPath, trTraceFields)
	t.Logf("%d connections (%d sockets expected in life), %d life rows, %d trace lines", w.conns, len(w.socks), len(lifeRows), len(traceRows))
	w.claimPassive(lifeRows, traceRows)

	t.Run("stderr", func(t *testing.T) {
		life.checkStderr(t)
		trace.checkStderr(t)
	})
	t.Run("life", func(t *testing.T) {
		if !trCheckLife(t, w, lifeRows, traceRows) {
			t.Log(life.missNote())
		}
	})
	t.Run("trace", func(t *testing.T) {
		if !trCheckTrace(t, w, traceRows) {
			t.Log(trace.missNote())
		}
	})
	t.Run("time-wait", func(t *testing.T) { trCheckTimeWait(t, w, string(ssOut), lifeRows, traceRows) })
}

// trRequireRoot skips t with the reason when the tests cannot run here, or
// fails it when BPFNETSTAT_REQUIRE_ROOT=1.
func trRequireRoot(t *testing.T) {
	t.Helper()
	var reasons []string
	if os.Geteuid() != 0 {
		reasons = append(reasons, fmt.Sprintf("needs root for eBPF and network namespaces (euid %d)", os.Geteuid()))
	}
	for _, tool := range []string{"ip", "ss", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			reasons = append(reasons, fmt.Sprintf("needs %s (scripts/install-test-deps.sh)", tool))
		}
	}
	if len(reasons) == 0 {
		return
	}
	msg := strings.Join(reasons, "; ")
	if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
		t.Fatalf("%s, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping", msg)
	}
	t.Skip(msg)
}

type trBinaries struct{ ours, churn string }

// trBuild builds bpfnetstat and the workload from this tree.
func trBuild(t *testing.T) trBinaries {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = filepath.Dir(dir)
	}
	bin := t.TempDir()
	b := trBinaries{ours: filepath.Join(bin, "bpfnetstat"), churn: filepath.Join(bin, "churn")}
	for out, pkg := range map[string]string{b.ours: "./cmd/bpfnetstat", b.churn: "./e2e/internal/churn"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -o %s %s: %v\n%s", out, pkg, err, msg)
		}
	}
	return b
}

// trNetns is a private network namespace with lo up and /etc/netns files
// that keep every name lookup in files.
type trNetns struct{ name string }

var (
	trNsSeq     atomic.Int32
	trStaleOnce sync.Once
)

func trNewNetns(t *testing.T) *trNetns {
	t.Helper()
	trStaleOnce.Do(func() { trRemoveStale(t) })
	n := &trNetns{name: fmt.Sprintf("%s%d-%d", trNsPrefix, os.Getpid(), trNsSeq.Add(1))}
	t.Cleanup(func() {
		if err := n.remove(); err != nil {
			t.Error(err)
		}
	})
	if err := n.writeEtc(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"netns", "add", n.name}, {"-n", n.name, "link", "set", "lo", "up"}} {
		if msg, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, msg)
		}
	}
	return n
}

func (n *trNetns) writeEtc() error {
	dir := filepath.Join("/etc/netns", n.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nss := "hosts: files\n"
	if sys, err := os.ReadFile("/etc/nsswitch.conf"); err == nil {
		var b strings.Builder
		for line := range strings.Lines(string(sys)) {
			if key, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "hosts" {
				continue
			}
			b.WriteString(line)
		}
		nss = strings.TrimRight(b.String(), "\n") + "\nhosts: files\n"
	}
	files := map[string]string{
		"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"resolv.conf":   "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
		"nsswitch.conf": nss,
	}
	for name, text := range files {
		// ip netns exec bind-mounts only over files that exist.
		if _, err := os.Stat(filepath.Join("/etc", name)); err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// inode is the namespace's inode number, the netns field of the tracers.
func (n *trNetns) inode(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", n.name), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// remove kills what still runs in the namespace, deletes it and its
// /etc/netns directory.
func (n *trNetns) remove() error {
	if out, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	var errs []error
	if _, err := os.Stat(filepath.Join("/run/netns", n.name)); err == nil {
		if msg, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", n.name, err, msg))
		}
	}
	if err := os.RemoveAll(filepath.Join("/etc/netns", n.name)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// trRemoveStale removes namespaces and /etc/netns directories of earlier
// runs whose process is gone.
func trRemoveStale(t *testing.T) {
	dead := func(name string) bool {
		rest, ok := strings.CutPrefix(name, trNsPrefix)
		if !ok {
			return false
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			return false
		}
		_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
		return errors.Is(err, os.ErrNotExist)
	}
	var names []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	etc, _ := filepath.Glob(filepath.Join("/etc/netns", trNsPrefix+"*"))
	for _, m := range etc {
		names = append(names, filepath.Base(m))
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		if dead(name) {
			t.Logf("removing stale namespace %s", name)
			if err := (&trNetns{name: name}).remove(); err != nil {
				t.Log(err)
			}
		}
	}
}

// trTracer is a running `bpfnetstat life|trace` in the namespace.
type trTracer struct {
	name       string
	cmd        *exec.Cmd
	stdoutPath string
	attached   chan struct{}
	exited     chan struct{}
	waitErr    error
	progs      []int // ids of its BPF programs (best effort)
	misses     int64 // their recursion misses after the workload, -1: unknown
	mu         sync.Mutex
	stderr     []string
}

const trAttachedPrefix = "bpfnetstat: tracing TCP connections ("

// trNewPIDNamespace starts a process that holds a new PID namespace (with
// its own /proc, in a new mount namespace) inside network namespace ns, and
// returns the command prefix that runs a program in all three.
func trNewPIDNamespace(t *testing.T, ns *trNetns) []string {
	t.Helper()
	holder := exec.Command("ip", "netns", "exec", ns.name, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sleep", "3600")
	if err := holder.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	// ip execs unshare, whose child (PID 1 in the new namespace) is the
	// one to enter.
	var inner int
	for deadline := time.Now().Add(10 * time.Second); inner == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the PID namespace holder did not start")
		}
		inner = trChildOf(holder.Process.Pid)
	}
	return []string{"nsenter", "-t", strconv.Itoa(inner), "-n", "-p", "-m"}
}

// trChildOf returns a child process of pid, 0 if it has none (yet).
func trChildOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	child, _ := strconv.Atoi(f[0])
	return child
}

// trStartTracer starts bpfnetstat under the command prefix enter and waits
// for its attach line.
func trStartTracer(t *testing.T, enter []string, bin string, args ...string) *trTracer {
	t.Helper()
	before := trProgs()
	tr := &trTracer{name: args[0], attached: make(chan struct{}), exited: make(chan struct{})}
	tr.stdoutPath = filepath.Join(t.TempDir(), tr.name+".jsonl")
	stdout, err := os.Create(tr.stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	tr.cmd = exec.Command(enter[0], append(append(enter[1:len(enter):len(enter)], bin), args...)...)
	tr.cmd.Stdout = stdout
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := tr.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tr.mu.Lock()
			tr.stderr = append(tr.stderr, sc.Text())
			tr.mu.Unlock()
			if strings.HasPrefix(sc.Text(), trAttachedPrefix) {
				once.Do(func() { close(tr.attached) })
			}
		}
		tr.waitErr = tr.cmd.Wait()
		close(tr.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-tr.exited:
		default:
			syscall.Kill(-tr.cmd.Process.Pid, syscall.SIGKILL)
			<-tr.exited
		}
	})
	tr.waitAttached(t)
	for id := range trProgs() {
		if _, ok := before[id]; !ok {
			tr.progs = append(tr.progs, id)
		}
	}
	slices.Sort(tr.progs)
	return tr
}

func (tr *trTracer) stderrText() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.stderr, "\n")
}

func (tr *trTracer) waitAttached(t *testing.T) {
	t.Helper()
	select {
	case <-tr.attached:
	case <-tr.exited:
		t.Fatalf("bpfnetstat %s exited before attaching: %v\n%s", tr.name, tr.waitErr, tr.stderrText())
	case <-time.After(trAttachTimeout):
		t.Fatalf("bpfnetstat %s did not attach within %v; stderr:\n%s", tr.name, trAttachTimeout, tr.stderrText())
	}
}

// stop sends the tracer SIGINT (as Ctrl-C would) or SIGTERM and waits for
// it to drain and exit.
func (tr *trTracer) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if tr.cmd.Args[0] == "nsenter" {
		// nsenter forks bpfnetstat into the PID namespace and dies at once
		// on the signal: only bpfnetstat gets it, and nsenter passes on
		// its exit status.
		child := trChildOf(tr.cmd.Process.Pid)
		if child == 0 {
			t.Fatalf("bpfnetstat %s: nsenter (pid %d) has no child to signal; stderr:\n%s", tr.name, tr.cmd.Process.Pid, tr.stderrText())
		}
		syscall.Kill(child, sig)
	} else {
		syscall.Kill(-tr.cmd.Process.Pid, sig)
	}
	select {
	case <-tr.exited:
	case <-time.After(trStopTimeout):
		t.Fatalf("bpfnetstat %s did not stop within %v of %v; stderr:\n%s", tr.name, trStopTimeout, sig, tr.stderrText())
	}
	if tr.waitErr != nil {
		t.Errorf("bpfnetstat %s: %v after %v; stderr:\n%s", tr.name, tr.waitErr, sig, tr.stderrText())
	}
}

var trLossLine = regexp.MustCompile(`^bpfnetstat: (\d+) events, lost: (\d+) \(ring buffer full\), (\d+) \(socket storage\), (\d+) \(accept unresolved\), (\d+) \(kernel recursion\), (\d+) \(user space\), (\d+) \(table evictions\)$`)

// checkStderr wants the attach line, the loss line reporting no loss, and
// nothing else.
func (tr *trTracer) checkStderr(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	lines := slices.Clone(tr.stderr)
	tr.mu.Unlock()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], trAttachedPrefix) || !strings.HasSuffix(lines[0], "); Ctrl-C to stop") {
		t.Errorf("bpfnetstat %s: stderr should be the attach line and the loss line, got:\n%s", tr.name, strings.Join(lines, "\n"))
	}
	if len(lines) == 0 {
		return
	}
	m := trLossLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Errorf("bpfnetstat %s: last stderr line is not the loss line: %q", tr.name, lines[len(lines)-1])
		return
	}
	if m[1] == "0" {
		t.Errorf("bpfnetstat %s: no events counted: %q", tr.name, m[0])
	}
	lost := false
	for _, n := range m[2:] {
		if n != "0" {
			t.Errorf("bpfnetstat %s: events lost: %q", tr.name, m[0])
			lost = true
			break
		}
	}
	// The kernel skips the first state program for events that arrive
	// while it runs (recursion misses); the catcher programs take those.
	// Whether any event was really lost is what the loss line's "kernel
	// recursion" count says, and what the exactly-once checks of life and
	// trace prove.
	if tr.misses > 0 && !lost {
		t.Logf("%s; all recovered by the catcher programs", tr.missNote())
	}
}

// trProgs lists the loaded BPF programs that bear the names of
// bpfnetstat's tracer programs, with their recursion misses: runs the
// kernel skipped because a BPF program was already running on the CPU (a
// softirq interrupted it), i.e. events the tracer never saw. Empty
// without bpftool.
func trProgs() map[int]uint64 {
	progs := map[int]uint64{}
	out, err := exec.Command("bpftool", "-j", "prog", "show").Output()
	if err != nil {
		return progs
	}
	var list []struct {
		ID              int    `json:"id"`
		Name            string `json:"name"`
		RecursionMisses uint64 `json:"recursion_misses"`
	}
	if json.Unmarshal(out, &list) != nil {
		return progs
	}
	for _, p := range list {
		for _, prefix := range []string{"set_state_", "sock_graft", "accept", "sys_exit_btf"} {
			if strings.HasPrefix(p.Name, prefix) {
				progs[p.ID] = p.RecursionMisses
			}
		}
	}
	return progs
}

// readMisses sums the recursion misses of the tracer's programs (those
// that appeared while it started: best effort); -1 when unknown.
func (tr *trTracer) readMisses() {
	tr.misses = -1
	if len(tr.progs) == 0 {
		return
	}
	now := trProgs()
	tr.misses = 0
	for _, id := range tr.progs {
		tr.misses += int64(now[id])
	}
}

func (tr *trTracer) missNote() string {
	if tr.misses < 0 {
		return fmt.Sprintf("bpfnetstat %s: recursion misses of its BPF programs unknown (bpftool missing or programs not identified)", tr.name)
	}
	return fmt.Sprintf("bpfnetstat %s: its BPF programs %v had %d recursion misses (runs the kernel skipped)", tr.name, tr.progs, tr.misses)
}

// The JSON lines, with the fields the tests read.
type trLifeRow struct {
	Time        string  `json:"time"`
	PID         int     `json:"pid"`
	UID         int     `json:"uid"`
	Comm        string  `json:"comm"`
	Family      string  `json:"family"`
	LAddr       string  `json:"laddr"`
	LPort       int     `json:"lport"`
	RAddr       string  `json:"raddr"`
	RPort       int     `json:"rport"`
	Direction   string  `json:"direction"`
	TxBytes     int64   `json:"tx_bytes"`
	RxBytes     int64   `json:"rx_bytes"`
	DurationMS  float64 `json:"duration_ms"`
	OwnerSource string  `json:"owner_source"`
	Error       string  `json:"error"`
	Cookie      uint64  `json:"cookie"`
	NetNS       uint64  `json:"netns"`
	raw         string
}

type trTraceRow struct {
	Time        string  `json:"time"`
	PID         int     `json:"pid"`
	UID         int     `json:"uid"`
	Comm        string  `json:"comm"`
	Family      string  `json:"family"`
	LAddr       string  `json:"laddr"`
	LPort       int     `json:"lport"`
	RAddr       string  `json:"raddr"`
	RPort       int     `json:"rport"`
	OldState    string  `json:"old_state"`
	NewState    string  `json:"new_state"`
	MS          float64 `json:"ms"`
	Direction   string  `json:"direction"`
	OwnerSource string  `json:"owner_source"`
	Error       string  `json:"error"`
	Cookie      uint64  `json:"cookie"`
	NetNS       uint64  `json:"netns"`
	raw         string
}

// trMaxUnseen bounds the ends no program saw (error "unseen": README, "A
// connection's end that no program sees") that the checks take in place of
// the real ones: about one socket in a thousand in full-suite runs here;
// more is a fault of bpfnetstat's, not the kernel's.
func trMaxUnseen(socks int) int { return max(2, socks/200) }

// trUnseenEnd says whether a socket's trace lines are the beginning of one
// of its expected sequences, ended by an unseen end from the last state
// they reached (the sweep's or the end hook's record).
func trUnseenEnd(s *trSock, lines []*trTraceRow) bool {
	n := len(lines)
	if n == 0 || lines[n-1].Error != "unseen" || lines[n-1].NewState != "CLOSE" {
		return false
	}
	var seq []string
	for _, r := range lines[:n-1] {
		seq = append(seq, r.OldState+">"+r.NewState)
	}
	last := "CLOSE"
	if n > 1 {
		last = lines[n-2].NewState
	}
	if lines[n-1].OldState != last {
		return false
	}
	for _, want := range s.trans {
		if len(seq) < len(want) && slices.Equal(seq, want[:len(seq)]) {
			return true
		}
	}
	return false
}

// Fields every line must have (error is omitted when there is none).
var (
	trLifeFields  = strings.Fields("time pid tid uid comm family laddr lport raddr rport cgroup container_id pod_uid unit direction tx_bytes rx_bytes duration_ms owner_source retransmits srtt_us cookie netns")
	trTraceFields = strings.Fields("time pid tid uid comm family laddr lport raddr rport cgroup container_id pod_uid unit old_state new_state ms direction owner_source cookie netns")
)

func trParseLines[T any](t *testing.T, path string, fields []string) []*T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*T
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			t.Fatalf("%s line %d is not JSON: %v: %q", filepath.Base(path), i+1, err, line)
		}
		for _, f := range fields {
			if _, ok := keys[f]; !ok {
				t.Fatalf("%s line %d lacks %q: %s", filepath.Base(path), i+1, f, line)
			}
		}
		row := new(T)
		if err := json.Unmarshal([]byte(line), row); err != nil {
			t.Fatalf("%s line %d: %v: %s", filepath.Base(path), i+1, err, line)
		}
		switch r := any(row).(type) {
		case *trLifeRow:
			r.raw = line
		case *trTraceRow:
			r.raw = line
		}
		rows = append(rows, row)
	}
	return rows
}

// trTuple is a socket's family and addresses as the tracers print them.
type trTuple struct {
	family       string
	laddr        string
	lport        int
	raddr        string
	rport        int
	lportUnknown bool // the workload could not learn a failed connect's port (see trSock)
}

func (u trTuple) String() string {
	return fmt.Sprintf("%s %s -> %s", u.family, netip.AddrPortFrom(netip.MustParseAddr(u.laddr), uint16(u.lport)),
		netip.AddrPortFrom(netip.MustParseAddr(u.raddr), uint16(u.rport)))
}

func (u trTuple) key() string {
	return fmt.Sprintf("%s|%s|%d|%s|%d", u.family, u.laddr, u.lport, u.raddr, u.rport)
}

// matches compares a line's tuple. Every line carries the real local
// port; where the workload could not learn it (a refused connect has given
// its port back before connect returns), any port but 0 will do:
// TestTracerFailures checks those against the wire.
func (u trTuple) matches(family, laddr string, lport int, raddr string, rport int) bool {
	if family != u.family || laddr != u.laddr || raddr != u.raddr || rport != u.rport {
		return false
	}
	return lport == u.lport || (u.lportUnknown && lport != 0)
}

// trSock is one socket the tracers must report, as the workload saw it.
type trSock struct {
	what   string // for messages
	cookie uint64 // 0 until known: the never-accepted passive sockets
	tuple  trTuple
	pid    int
	source string // owner_source
	dir    string // direction
	tx, rx int64
	err    string
	// Bounds of duration_ms, in ns.
	minNs, maxNs int64
	// The transition sequences trace may show (old>new).
	trans [][]string
	// The active closer of a finished connection: in TIME_WAIT now.
	timeWait bool
}

// trListener is a listening socket of the workload.
type trListener struct {
	what   string
	family string
	addr   string
	port   int
	pid    int
}

type trWorkload struct {
	socks     []*trSock
	byCookie  map[uint64]*trSock
	listeners []trListener
	conns     int
	serverPID int
	clients   map[int]bool
	acceptors map[int]int // pid -> connections accepted
	runWall   time.Duration
	netns     uint64
	from, to  time.Time
}

// The transition sequences: exact, because the protocol fixes who closes
// first and the other side closes only after it read the FIN, so its own
// FIN always carries the ACK of the first one (no simultaneous close,
// hence no CLOSING). The active closer leaves FIN_WAIT2 for CLOSE when its
// timewait socket takes over.
var (
	trActiveCloser  = []string{"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE"}
	trActivePassive = []string{"CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}
	trPassiveCloser = []string{"LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE"}
	trPassiveLast   = []string{"LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"}
	trRefused       = []string{"CLOSE>SYN_SENT", "SYN_SENT>CLOSE"}
	// Never accepted: the client's FIN is acknowledged (CLOSE_WAIT), then
	// closing the listener aborts the connection.
	trNeverAccepted = []string{"LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>CLOSE_WAIT", "CLOSE_WAIT>CLOSE"}
	trListenerSeq   = []string{"CLOSE>LISTEN", "LISTEN>CLOSE"}
)

// trLoadWorkload reads the workload's records and derives every socket
// the tracers must report.
func trLoadWorkload(t *testing.T, dir string, runWall time.Duration) *trWorkload {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*record.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(data)) {
			r := new(record.Record)
			if err := json.Unmarshal([]byte(line), r); err != nil {
				t.Fatalf("%s: %v: %q", f, err, line)
			}
			recs = append(recs, r)
		}
	}
	w := &trWorkload{byCookie: map[uint64]*trSock{}, clients: map[int]bool{}, acceptors: map[int]int{}, runWall: runWall}
	var backlogPID int
	served := map[uint32]*record.Record{}
	for _, r := range recs {
		switch {
		case r.Type == record.TypeProc && r.Role == record.RoleServer:
			w.serverPID = r.PID
			w.listeners = append(w.listeners, trListener{"pre-fork server's v4 listener", "inet", "127.0.0.1", r.V4Port, r.PID},
				trListener{"pre-fork server's v6 listener", "inet6", "::1", r.V6Port, r.PID})
		case r.Type == record.TypeProc && r.Role == record.RoleBacklog:
			backlogPID = r.PID
			w.listeners = append(w.listeners, trListener{"never-accepting v4 listener", "inet", "127.0.0.1", r.V4Port, r.PID},
				trListener{"never-accepting v6 listener", "inet6", "::1", r.V6Port, r.PID})
		case r.Type == record.TypeConn && r.Role == record.RoleAcceptor:
			if served[r.ID] != nil {
				t.Fatalf("workload: connection %#x accepted twice", r.ID)
			}
			served[r.ID] = r
			w.acceptors[r.PID]++
		}
	}
	if w.serverPID == 0 || backlogPID == 0 {
		t.Fatalf("workload: no record of the server or the backlog process in %s", dir)
	}
	slack := trSlack.Nanoseconds()
	wall := w.wallNs()
	add := func(s *trSock) {
		if s.cookie != 0 {
			if w.byCookie[s.cookie] != nil {
				t.Fatalf("workload: cookie %d recorded twice (%s, %s)", s.cookie, w.byCookie[s.cookie].what, s.what)
			}
			w.byCookie[s.cookie] = s
		}
		w.socks = append(w.socks, s)
	}
	tupleOf := func(r *record.Record) trTuple {
		return trTuple{family: r.Family, laddr: r.LAddr, lport: r.LPort, raddr: r.RAddr, rport: r.RPort}
	}
	for _, c := range recs {
		if c.Type != record.TypeConn || c.Role != record.RoleClient {
			continue
		}
		w.conns++
		w.clients[c.PID] = true
		what := fmt.Sprintf("connection %#x (%s, %s", c.ID, c.Kind, c.Family)
		if c.Kind == record.KindNormal {
			what += ", " + c.Closer + " closes first"
		}
		what += ")"
		cl := &trSock{what: "client side of " + what, cookie: c.Cookie, tuple: tupleOf(c), pid: c.PID, source: "connect", dir: "active",
			tx: c.Sent, rx: c.Recv, minNs: c.CloseNs - c.OpenNs}
		switch c.Kind {
		case record.KindNormal:
			a := served[c.ID]
			if a == nil {
				t.Fatalf("workload: %s has no acceptor record", what)
			}
			delete(served, c.ID)
			if a.RPort != c.LPort || a.LPort != c.RPort || a.Family != c.Family {
				t.Fatalf("workload: %s: client and acceptor disagree on the tuple: %+v vs %+v", what, c, a)
			}
			sv := &trSock{what: "server side of " + what, cookie: a.Cookie, tuple: tupleOf(a), pid: a.PID, source: "accept", dir: "passive",
				tx: a.Sent, rx: a.Recv, minNs: a.CloseNs - a.OpenNs}
			// Every socket of the connection reaches CLOSE once both
			// sides closed, plus a loopback crossing.
			cl.maxNs = max(c.EndNs, a.EndNs) - c.StartNs + slack
			sv.maxNs = cl.maxNs
			if c.Closer == record.CloserClient {
				cl.trans, sv.trans = [][]string{trActiveCloser}, [][]string{trPassiveLast}
				cl.timeWait = true
			} else {
				cl.trans, sv.trans = [][]string{trActivePassive}, [][]string{trPassiveCloser}
				sv.timeWait = true
			}
			add(cl)
			add(sv)
		case record.KindRefused:
			// The kernel frees the port before connect returns: the
			// workload cannot learn it.
			cl.tuple.lportUnknown = true
			// On lo the kernel takes the destination as the source.
			cl.tuple.laddr = c.RAddr
			cl.err = "refused"
			cl.minNs, cl.maxNs = 1, c.EndNs-c.StartNs+slack
			cl.trans = [][]string{trRefused}
			add(cl)
		case record.KindBacklog:
			cl.maxNs = wall
			cl.trans = [][]string{trActiveCloser}
			add(cl)
			u := tupleOf(c)
			add(&trSock{what: "never-accepted server side of " + what,
				tuple: trTuple{family: u.family, laddr: u.raddr, lport: u.rport, raddr: u.laddr, rport: u.lport},
				pid:   backlogPID, source: "listener", dir: "passive", tx: 0, rx: c.Sent, minNs: 1, maxNs: wall,
				err: "not_accepted", trans: [][]string{trNeverAccepted}})
		default:
			t.Fatalf("workload: unknown kind %q", c.Kind)
		}
	}
	if len(served) > 0 {
		t.Fatalf("workload: %d accepted connections without a client record", len(served))
	}
	want := trClients * (trConnsPer + trRefusedPer + trBacklogPer)
	if w.conns != want {
		t.Fatalf("workload: %d client records, want %d", w.conns, want)
	}
	return w
}

func (w *trWorkload) wallNs() int64 { return w.runWall.Nanoseconds() }

// claimPassive gives the never-accepted passive sockets (which no process
// ever held, so the workload knows no cookie) the cookie of the life row,
// else of the trace lines, with their tuple.
func (w *trWorkload) claimPassive(life []*trLifeRow, trace []*trTraceRow) {
	byTuple := map[string][]uint64{}
	note := func(u trTuple, cookie uint64) {
		if _, known := w.byCookie[cookie]; known {
			return
		}
		k := u.key()
		if !slices.Contains(byTuple[k], cookie) {
			byTuple[k] = append(byTuple[k], cookie)
		}
	}
	for _, r := range life {
		note(trTuple{family: r.Family, laddr: r.LAddr, lport: r.LPort, raddr: r.RAddr, rport: r.RPort}, r.Cookie)
	}
	for _, r := range trace {
		note(trTuple{family: r.Family, laddr: r.LAddr, lport: r.LPort, raddr: r.RAddr, rport: r.RPort}, r.Cookie)
	}
	for _, s := range w.socks {
		if s.cookie == 0 {
			if c := byTuple[s.tuple.key()]; len(c) == 1 {
				s.cookie = c[0]
				w.byCookie[s.cookie] = s
			}
		}
	}
}

// trProblems collects failures by kind and reports each kind once, with
// its count and the first examples.
type trProblems struct {
	order []string
	by    map[string][]string
}

func (p *trProblems) add(kind, format string, args ...any) {
	if p.by == nil {
		p.by = map[string][]string{}
	}
	if _, ok := p.by[kind]; !ok {
		p.order = append(p.order, kind)
	}
	p.by[kind] = append(p.by[kind], fmt.Sprintf(format, args...))
}

// report fails t once per kind and says whether all was well.
func (p *trProblems) report(t *testing.T, total int, of string) bool {
	t.Helper()
	for _, kind := range p.order {
		ex := p.by[kind]
		n := len(ex)
		if n > 8 {
			ex = append(ex[:8:8], fmt.Sprintf("... and %d more", n-8))
		}
		t.Errorf("%s: %d of %d %s:\n  %s", kind, n, total, of, strings.Join(ex, "\n  "))
	}
	return len(p.order) == 0
}

func (w *trWorkload) checkTime(p *trProblems, what, ts, raw string) {
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || tm.Before(w.from) || tm.After(w.to) {
		p.add("time outside the test's run", "%s: %q not within %s .. %s: %s", what, ts, w.from.Format(time.RFC3339Nano), w.to.Format(time.RFC3339Nano), raw)
	}
}

// trCheckLife wants each socket exactly once with its owner, bytes,
// error and a plausible duration, and no other row.
func trCheckLife(t *testing.T, w *trWorkload, rows []*trLifeRow, trace []*trTraceRow) bool {
	var p trProblems
	// The transitions, as evidence in messages.
	traced := map[uint64]string{}
	for _, r := range trace {
		traced[r.Cookie] = strings.TrimSpace(traced[r.Cookie] + " " + r.OldState + ">" + r.NewState)
	}
	byCookie := map[uint64][]*trLifeRow{}
	for _, r := range rows {
		byCookie[r.Cookie] = append(byCookie[r.Cookie], r)
	}
	traceOf := map[uint64][]*trTraceRow{}
	for _, r := range trace {
		traceOf[r.Cookie] = append(traceOf[r.Cookie], r)
	}
	distinct := map[int]bool{}
	unseen := 0
	for _, s := range w.socks {
		got := byCookie[s.cookie]
		if s.cookie == 0 || len(got) == 0 {
			p.add("missing from life", "%s %s (pid %d, cookie %d; trace: %s)", s.what, s.tuple, s.pid, s.cookie, traced[s.cookie])
			continue
		}
		if len(got) > 1 {
			var raws []string
			for _, r := range got {
				raws = append(raws, r.raw)
			}
			p.add("reported more than once by life", "%s: %d rows:\n    %s", s.what, len(got), strings.Join(raws, "\n    "))
		}
		r := got[0]
		if r.PID != s.pid {
			role := "another process"
			switch {
			case r.PID == w.serverPID:
				role = "the pre-fork parent"
			case w.clients[r.PID]:
				role = "a client"
			case w.acceptors[r.PID] > 0:
				role = "another acceptor"
			}
			p.add("wrong pid", "%s: pid %d (%s), want %d: %s", s.what, r.PID, role, s.pid, r.raw)
		}
		if s.source == "accept" {
			distinct[r.PID] = true
		}
		if r.OwnerSource != s.source || r.Direction != s.dir {
			p.add("wrong owner_source or direction", "%s: %s/%s, want %s/%s: %s", s.what, r.OwnerSource, r.Direction, s.source, s.dir, r.raw)
		}
		// A socket the sweep found gone entirely has no tuple left
		// (0.0.0.0 port 0); one it found in TIME_WAIT has its own.
		noTuple := r.Error == "unseen" && r.LAddr == "0.0.0.0" && r.LPort == 0 && r.RAddr == "0.0.0.0" && r.RPort == 0
		if !noTuple && !s.tuple.matches(r.Family, r.LAddr, r.LPort, r.RAddr, r.RPort) {
			p.add("wrong tuple", "%s: want %s: %s", s.what, s.tuple, r.raw)
		}
		if r.Error == "unseen" && s.err == "" {
			// The kernel ran no program for its last transitions, in
			// both tracers: trace must show the same. Its counters and
			// end are not known; the rest is checked as for any row.
			unseen++
			t.Logf("%s: end unseen (trace: %s): %s", s.what, traced[r.Cookie], r.raw)
			if !trUnseenEnd(s, traceOf[r.Cookie]) {
				p.add("unseen end in life, not in trace", "%s (trace: %s): %s", s.what, traced[r.Cookie], r.raw)
			}
			if r.Comm != "churn" || r.UID != 0 || r.NetNS != w.netns {
				p.add("wrong comm, uid or netns", "%s: want churn, 0, %d: %s", s.what, w.netns, r.raw)
			}
			w.checkTime(&p, s.what, r.Time, r.raw)
			continue
		}
		if r.TxBytes != s.tx {
			p.add("wrong tx_bytes", "%s: tx_bytes %d, want %d: %s", s.what, r.TxBytes, s.tx, r.raw)
		}
		if r.RxBytes != s.rx {
			p.add("wrong rx_bytes", "%s: rx_bytes %d, want %d (trace: %s): %s", s.what, r.RxBytes, s.rx, traced[r.Cookie], r.raw)
		}
		if r.Error != s.err {
			p.add("wrong error", "%s: error %q, want %q: %s", s.what, r.Error, s.err, r.raw)
		}
		ns := r.DurationMS * 1e6
		if r.DurationMS <= 0 || ns+1e3 < float64(s.minNs) || ns > float64(s.maxNs) || ns >= float64(w.wallNs()) {
			p.add("implausible duration_ms", "%s: %.6f ms, want within %.3f .. %.3f ms (workload ran %v): %s",
				s.what, r.DurationMS, float64(s.minNs)/1e6, float64(min(s.maxNs, w.wallNs()))/1e6, w.runWall, r.raw)
		}
		if r.Comm != "churn" || r.UID != 0 || r.NetNS != w.netns {
			p.add("wrong comm, uid or netns", "%s: want churn, 0, %d: %s", s.what, w.netns, r.raw)
		}
		w.checkTime(&p, s.what, r.Time, r.raw)
	}
	for _, r := range rows {
		if s := w.byCookie[r.Cookie]; s == nil || s.cookie == 0 {
			p.add("not a connection of the workload", "%s", r.raw)
		}
	}
	if unseen > trMaxUnseen(len(w.socks)) {
		p.add("too many unseen ends", "%d of %d sockets, want at most %d", unseen, len(w.socks), trMaxUnseen(len(w.socks)))
	}
	ok := p.report(t, len(w.socks), "sockets")
	if len(distinct) < 2 {
		t.Errorf("passive rows name %d distinct acceptors (%v); the workload spread connections over %v", len(distinct), distinct, w.acceptors)
	}
	t.Logf("connections per acceptor pid: %v (pre-fork parent %d)", w.acceptors, w.serverPID)
	return ok
}

// trCheckTrace wants each socket's transitions, in order, each line with
// the socket's owner, and the listeners' with theirs.
func trCheckTrace(t *testing.T, w *trWorkload, rows []*trTraceRow) bool {
	var p trProblems
	unseen := 0
	byCookie := map[uint64][]*trTraceRow{}
	var cookies []uint64
	for _, r := range rows {
		if byCookie[r.Cookie] == nil {
			cookies = append(cookies, r.Cookie)
		}
		byCookie[r.Cookie] = append(byCookie[r.Cookie], r)
		if r.MS < 0 || r.MS*1e6 > float64(w.wallNs()) {
			p.add("implausible ms", "%s", r.raw)
		}
		if r.Comm != "churn" || r.UID != 0 || r.NetNS != w.netns {
			p.add("wrong comm, uid or netns", "want churn, 0, %d: %s", w.netns, r.raw)
		}
		w.checkTime(&p, "line", r.Time, r.raw)
	}
	seqOf := func(lines []*trTraceRow) []string {
		var seq []string
		for _, r := range lines {
			seq = append(seq, r.OldState+">"+r.NewState)
		}
		return seq
	}
	for _, s := range w.socks {
		lines := byCookie[s.cookie]
		if s.cookie == 0 || len(lines) == 0 {
			p.add("missing from trace", "%s %s (pid %d)", s.what, s.tuple, s.pid)
			continue
		}
		seq := seqOf(lines)
		switch {
		case slices.ContainsFunc(s.trans, func(want []string) bool { return slices.Equal(seq, want) }):
		case s.err == "" && trUnseenEnd(s, lines):
			unseen++
			t.Logf("%s (cookie %d): end unseen: %s", s.what, s.cookie, strings.Join(seq, " "))
		default:
			p.add("wrong transitions", "%s (cookie %d): %s, want %s", s.what, s.cookie, strings.Join(seq, " "), strings.Join(s.trans[0], " "))
		}
		for _, r := range lines {
			if r.PID != s.pid || r.OwnerSource != s.source || r.Direction != s.dir {
				p.add("wrong owner on a line", "%s: want pid %d %s/%s: %s", s.what, s.pid, s.source, s.dir, r.raw)
				break
			}
		}
		for _, r := range lines {
			if !s.tuple.matches(r.Family, r.LAddr, r.LPort, r.RAddr, r.RPort) {
				p.add("wrong tuple on a line", "%s: want %s: %s", s.what, s.tuple, r.raw)
				break
			}
		}
	}
	for _, l := range w.listeners {
		var found []uint64
		for _, c := range cookies {
			r := byCookie[c][0]
			if r.Family == l.family && r.LAddr == l.addr && r.LPort == l.port && r.RPort == 0 && r.NewState == "LISTEN" {
				found = append(found, c)
			}
		}
		if len(found) != 1 {
			p.add("listener not traced exactly once", "%s %s port %d: %d sockets", l.what, l.addr, l.port, len(found))
			continue
		}
		lines := byCookie[found[0]]
		if seq := seqOf(lines); !slices.Equal(seq, trListenerSeq) {
			p.add("wrong transitions", "%s: %s, want %s", l.what, strings.Join(seq, " "), strings.Join(trListenerSeq, " "))
		}
		for _, r := range lines {
			if r.PID != l.pid || r.OwnerSource != "listener" {
				p.add("wrong owner on a line", "%s: want pid %d listener: %s", l.what, l.pid, r.raw)
				break
			}
		}
		w.byCookie[found[0]] = &trSock{what: l.what, cookie: found[0]}
	}
	if unseen > trMaxUnseen(len(w.socks)) {
		p.add("too many unseen ends", "%d of %d sockets, want at most %d", unseen, len(w.socks), trMaxUnseen(len(w.socks)))
	}
	unknown := 0
	for _, c := range cookies {
		if w.byCookie[c] == nil {
			unknown++
			for _, r := range byCookie[c] {
				p.add("not a socket of the workload", "%s", r.raw)
			}
		}
	}
	return p.report(t, len(w.socks)+len(w.listeners)+unknown, "sockets")
}

// trTimeWait is one timewait socket as ss prints it.
type trTimeWait struct {
	local, peer netip.AddrPort
	cookie      uint64
	line        string
}

var trSSCookie = regexp.MustCompile(`\bsk:([0-9a-f]+)\b`)

func trParseSS(t *testing.T, out string) []trTimeWait {
	var tws []trTimeWait
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "Recv-Q" {
			continue
		}
		local, err1 := netip.ParseAddrPort(f[2])
		peer, err2 := netip.ParseAddrPort(f[3])
		m := trSSCookie.FindStringSubmatch(line)
		if err1 != nil || err2 != nil || m == nil {
			t.Fatalf("cannot parse ss line %q", line)
		}
		cookie, err := strconv.ParseUint(m[1], 16, 64)
		if err != nil {
			t.Fatalf("ss line %q: %v", line, err)
		}
		tws = append(tws, trTimeWait{local: local, peer: peer, cookie: cookie, line: strings.TrimSpace(line)})
	}
	return tws
}

// trCheckTimeWait: every connection's active closer is in TIME_WAIT under
// its socket's cookie, and life and trace give that cookie the owner.
func trCheckTimeWait(t *testing.T, w *trWorkload, ssOut string, life []*trLifeRow, trace []*trTraceRow) {
	tws := trParseSS(t, ssOut)
	byCookie := map[uint64]trTimeWait{}
	for _, tw := range tws {
		byCookie[tw.cookie] = tw
	}
	lifeBy := map[uint64]*trLifeRow{}
	for _, r := range life {
		lifeBy[r.Cookie] = r
	}
	lastTrace := map[uint64]*trTraceRow{}
	for _, r := range trace {
		lastTrace[r.Cookie] = r
	}
	// A timewait socket that a later connection's SYN on the same four
	// ports ended (the kernel lets a SYN reuse a timewait socket's ports:
	// on loopback the client's port, freed at its close, can come round
	// again) is not in ss, and rightly.
	tuples := map[string]int{}
	for _, s := range w.socks {
		tuples[s.tuple.key()]++
	}
	var p trProblems
	want := 0
	for _, s := range w.socks {
		if !s.timeWait {
			continue
		}
		want++
		tw, ok := byCookie[s.cookie]
		if !ok && tuples[s.tuple.key()] > 1 {
			t.Logf("%s %s (cookie %d): not in TIME_WAIT, its ports taken again by a later connection", s.what, s.tuple, s.cookie)
			continue
		}
		if !ok {
			p.add("active closer not in TIME_WAIT", "%s %s (cookie %d)", s.what, s.tuple, s.cookie)
			continue
		}
		delete(byCookie, s.cookie)
		u := s.tuple
		if tw.local.Port() != uint16(u.lport) || tw.peer.Port() != uint16(u.rport) || tw.local.Addr().String() != u.laddr {
			p.add("TIME_WAIT socket with another tuple", "%s %s: ss: %s", s.what, u, tw.line)
		}
		if r := lifeBy[s.cookie]; r == nil || r.PID != s.pid {
			got := "no row"
			if r != nil {
				got = r.raw
			}
			p.add("TIME_WAIT socket without its owner in life", "%s (ss: %s): want pid %d: %s", s.what, tw.line, s.pid, got)
		}
		if r := lastTrace[s.cookie]; r == nil || r.PID != s.pid || r.NewState != "CLOSE" {
			got := "no line"
			if r != nil {
				got = r.raw
			}
			p.add("TIME_WAIT socket without its owner in trace", "%s (ss: %s): want a last line -> CLOSE with pid %d: %s", s.what, tw.line, s.pid, got)
		}
	}
	for _, tw := range byCookie {
		p.add("unexpected TIME_WAIT socket", "%s", tw.line)
	}
	p.report(t, want, "connections")
	t.Logf("%d timewait sockets in ss, %d expected", len(tws), want)
}
