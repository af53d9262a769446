package e2e

// Kernel tests of bpfnetstat's merged continuous view: invoked as
// bpfnetstat (not through the netstat symlink), `-c` with -p or --recent
// keeps the eBPF tracer running between refreshes, names the owner of
// TIME_WAIT rows (which netstat shows as "-") and, with --recent, adds a
// CLOSED row with its lifetime for every connection that opened and closed
// between two refreshes.
//
// Each test runs in a private namespace of its own: bpfnetstat starts
// first, then the workload (internal/tw): a server process and a client
// process that churns short connections, closed first by the client, so
// that their TIME_WAIT sockets sit on the client's side. The client writes
// down, per connection, its port and wall-clock times around the dial and
// the close; the reader of bpfnetstat's stdout writes down when each
// refresh arrived. From these the tests know, for most connections, in
// which refresh their ghost rows must appear:
//
//   - TestMergedRecent: `bpfnetstat -tanpc --recent`: every TIME_WAIT row
//     of the client shows its PID/program (cut to 19 bytes and padded like
//     netstat's column); ghost rows come after the live rows, carry the
//     client's PID (client side) or the server's (server side), a lifetime
//     within what the client measured, appear in the refresh right after
//     the connection closed and at most once; a connection that opened and
//     closed well inside the pause between two listings must have both its
//     ghost rows; one that was open while a listing ran must at least show
//     up as a ghost or as a TIME_WAIT row with the client's PID; nothing on
//     stderr.
//   - TestMergedRecentEdges: the connections TestMergedRecent tolerates,
//     made on purpose (back-to-back connections while listings run): each
//     socket must be shown exactly once, as a live row or as a ghost row.
//   - TestMergedLayout: `bpfnetstat -tanpc` (no --recent) while the client
//     churns, and a real `netstat -tanp` right after each refresh: headers
//     byte-identical, every row in netstat's row layout, no extra row;
//     LISTEN rows byte-identical, TIME_WAIT rows too except the owner cell
//     ("-" in netstat, the client's PID/program in bpfnetstat), other rows
//     with the same owner when both name one.
//   - TestMergedJSON: `bpfnetstat -tanpc --recent --json`: each refresh a
//     JSON array; TIME_WAIT rows of the client with its pid and
//     owner_source "connect"; ghost rows with state CLOSED and duration_ms,
//     checked like the text ones.
//   - TestMergedWithoutBPF: `bpfnetstat -tanpc` as nobody (no eBPF): one
//     stderr line saying why (root), otherwise netstat's own -p warning per
//     refresh; netstat's layout; a TIME_WAIT row names the owner that the
//     same 4-tuple had at the previous refresh, and "-" otherwise.
//
// Names in this file start with mg.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// mgProgName is the workload binary's name: with a PID it is longer
	// than the 19 bytes netstat keeps of "PID/program".
	mgProgName = "mg-tw-workload-binary"
	mgPort     = 7171
	mgTitle    = "Active Internet connections (servers and established)"
	// mgSlack absorbs the delay between bpfnetstat writing a listing and
	// this process reading it, and sleep overshoot.
	mgSlack = 30 * time.Millisecond
	// mgPeriod is netstat's -c pause after each listing.
	mgPeriod  = time.Second
	mgTimeout = 20 * time.Second
)

var (
	mgBuildOnce sync.Once
	mgBins      struct{ ours, tw string }
	mgBuildErr  error
)

// mgBuild returns bpfnetstat and the workload, both in directories uid
// 65534 can traverse.
func mgBuild(t *testing.T) (ours, tw string) {
	t.Helper()
	b := getBinaries(t) // also creates workRoot
	mgBuildOnce.Do(func() {
		dir := filepath.Join(workRoot, "mg")
		if mgBuildErr = os.Mkdir(dir, 0o755); mgBuildErr != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			mgBuildErr = err
			return
		}
		mgBins.tw = filepath.Join(dir, mgProgName)
		if mgBuildErr = goBuild(root, mgBins.tw, "./e2e/internal/tw"); mgBuildErr != nil {
			return
		}
		mgBins.ours = b.ours
		if !worldTraversable(filepath.Dir(b.ours)) {
			data, err := os.ReadFile(b.ours)
			if err != nil {
				mgBuildErr = err
				return
			}
			mgBins.ours = filepath.Join(dir, "bpfnetstat")
			mgBuildErr = os.WriteFile(mgBins.ours, data, 0o755)
		}
	})
	if mgBuildErr != nil {
		t.Fatal(mgBuildErr)
	}
	return mgBins.ours, mgBins.tw
}

// mgNewNetns is newNetns, removed when t ends.
func mgNewNetns(t *testing.T) *netns {
	t.Helper()
	n := newNetns(t)
	t.Cleanup(func() {
		if err := n.close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// mgLine is a line of a process's stdout and when this process read it.
type mgLine struct {
	at   time.Time
	text string
}

// mgProc is a process running in a namespace, its stdout read line by line
// as it comes.
type mgProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	lines  []mgLine
	stderr bytes.Buffer
	wake   chan struct{}
	exited chan struct{}
}

type mgStderr struct{ p *mgProc }

func (w mgStderr) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// mgStart runs argv in the namespace (as uid 65534 if nobody); it is
// killed when t ends, if it still runs.
func mgStart(t *testing.T, ns *netns, nobody bool, argv ...string) *mgProc {
	t.Helper()
	args := []string{"netns", "exec", ns.name}
	if nobody {
		args = append(args, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
	}
	p := &mgProc{name: filepath.Base(argv[0]) + " " + strings.Join(argv[1:], " "), wake: make(chan struct{}, 1), exited: make(chan struct{})}
	p.cmd = exec.Command("ip", append(args, argv...)...)
	p.cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	p.cmd.Stderr = mgStderr{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := mgLine{at: time.Now(), text: sc.Text()}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
			return
		case <-time.After(3 * time.Second):
		}
		syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	return p
}

func (p *mgProc) snapshot() ([]mgLine, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]mgLine(nil), p.lines...), p.stderr.String()
}

// text is the process's output for a failure message, its stdout cut in
// the middle when it is long.
func (p *mgProc) text() string {
	lines, stderr := p.snapshot()
	var b strings.Builder
	const keep = 200
	for i, l := range lines {
		if len(lines) > 2*keep && i == keep {
			fmt.Fprintf(&b, "[... %d lines ...]\n", len(lines)-2*keep)
		}
		if len(lines) <= 2*keep || i < keep || i >= len(lines)-keep {
			b.WriteString(l.text + "\n")
		}
	}
	return fmt.Sprintf("stdout:\n%sstderr:\n%s", b.String(), stderr)
}

// waitFor waits for the first line at or after index from that matches;
// match sees each line once.
func (p *mgProc) waitFor(t *testing.T, what string, from int, match func(string) bool) (int, mgLine) {
	t.Helper()
	deadline := time.After(mgTimeout)
	for {
		p.mu.Lock()
		for ; from < len(p.lines); from++ {
			if strings.HasPrefix(p.lines[from].text, "error ") {
				p.mu.Unlock()
				t.Fatalf("%s: %s", p.name, p.lines[from].text)
			}
			if match(p.lines[from].text) {
				l := p.lines[from]
				p.mu.Unlock()
				return from, l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.exited:
			select {
			case <-p.wake:
				continue
			default:
			}
			t.Fatalf("%s exited (%v) while waiting for %s\n%s", p.name, p.cmd.ProcessState, what, p.text())
		case <-deadline:
			t.Fatalf("%s: no %s within %v\n%s", p.name, what, mgTimeout, p.text())
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C would, and checks that the process
// was still running and died of it (netstat -c has no handler either).
func (p *mgProc) interrupt(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s ended before SIGINT: %v\n%s", p.name, p.cmd.ProcessState, p.text())
	default:
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still runs 5 s after SIGINT\n%s", p.name, p.text())
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("%s: %v after SIGINT, want death by SIGINT like netstat", p.name, p.cmd.ProcessState)
	}
}

// mgOwner is a workload process.
type mgOwner struct {
	pid  int
	name string
}

// cell is netstat's PID/Program name column for the process: "PID/name"
// cut to 19 bytes, padded to 20.
func (o mgOwner) cell() string {
	s := fmt.Sprintf("%d/%s", o.pid, o.name)
	if len(s) > 19 {
		s = s[:19]
	}
	return fmt.Sprintf("%-20s", s)
}

var mgNoOwnerCell = fmt.Sprintf("%-20s", "-")

// mgConn is one connection of the client, as it measured it.
type mgConn struct {
	port int
	// Before the dial, after it, before the shutdown, after the EOF.
	s, d, f, c time.Time
}

// mgWorkload is the server and the client, started after bpfnetstat.
type mgWorkload struct {
	server, client       *mgProc
	serverOwn, clientOwn mgOwner
	conns                map[int]*mgConn
	ports                []int
	lastClose            time.Time
}

// mgStartWorkload starts the server and the client with clientArgs.
func mgStartWorkload(t *testing.T, ns *netns, nobody bool, tw string, clientArgs ...string) *mgWorkload {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", mgPort)
	w := &mgWorkload{conns: map[int]*mgConn{}}
	// tcp_tw_reuse (2 by default: loopback only) would let connect() take
	// over a port still in TIME_WAIT, and two connections would share rows.
	if out, err := exec.Command("ip", "netns", "exec", ns.name, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=0").CombinedOutput(); err != nil {
		t.Fatalf("sysctl tcp_tw_reuse: %v: %s", err, out)
	}
	ready := func(p *mgProc) mgOwner {
		_, l := p.waitFor(t, "ready line", 0, func(s string) bool { return strings.HasPrefix(s, "ready ") })
		pid, err := strconv.Atoi(strings.TrimPrefix(l.text, "ready "))
		if err != nil || pid != p.cmd.Process.Pid {
			t.Fatalf("%s: %q, but its PID is %d", p.name, l.text, p.cmd.Process.Pid)
		}
		return mgOwner{pid: pid, name: mgProgName}
	}
	w.server = mgStart(t, ns, nobody, tw, "server", "-addr", addr)
	w.serverOwn = ready(w.server)
	w.client = mgStart(t, ns, nobody, append([]string{tw, "client", "-addr", addr}, clientArgs...)...)
	w.clientOwn = ready(w.client)
	return w
}

// wait waits for the client's "done" and reads what it recorded.
func (w *mgWorkload) wait(t *testing.T) {
	t.Helper()
	w.client.waitFor(t, "done", 0, func(s string) bool { return s == "done" })
	w.collect(t)
}

// collect reads the connections the client has recorded so far.
func (w *mgWorkload) collect(t *testing.T) {
	t.Helper()
	w.conns, w.ports, w.lastClose = map[int]*mgConn{}, nil, time.Time{}
	lines, _ := w.client.snapshot()
	for _, l := range lines {
		f := strings.Fields(l.text)
		if len(f) != 6 || f[0] != "conn" {
			continue
		}
		var n [5]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				t.Fatalf("client: bad line %q", l.text)
			}
			n[i] = v
		}
		c := &mgConn{port: int(n[0]), s: time.Unix(0, n[1]), d: time.Unix(0, n[2]), f: time.Unix(0, n[3]), c: time.Unix(0, n[4])}
		if w.conns[c.port] != nil {
			t.Fatalf("client: port %d used twice (TIME_WAIT should prevent that: net.ipv4.tcp_tw_reuse is 0 here)", c.port)
		}
		w.conns[c.port] = c
		w.ports = append(w.ports, c.port)
		if c.c.After(w.lastClose) {
			w.lastClose = c.c
		}
	}
	sort.Ints(w.ports)
}

// mgRow is one Internet row of a refresh, text or JSON.
type mgRow struct {
	line           string // the text row or the JSON object
	local, foreign netip.AddrPort
	state          string
	cell           string // text: the PID/Program name cell, 20 bytes
	pid            int    // JSON
	program        string // JSON
	source         string // JSON: owner_source
	inode          uint64 // JSON
	ghost          bool
	lifetime       float64 // ms, ghost rows
}

func (r *mgRow) key() [2]netip.AddrPort { return [2]netip.AddrPort{r.local, r.foreign} }

// mgRefresh is one listing of bpfnetstat -c.
type mgRefresh struct {
	// at is when its last line was read: bpfnetstat computed its ghost
	// rows before it wrote that line, and sleeps a second after it. (The
	// first line can come much earlier: the output is flushed whenever
	// 64 KiB are buffered.)
	at     time.Time
	title  string // text
	header string // text
	rows   []mgRow
}

// mgView holds what differs between the text and the JSON checks.
type mgView struct{ json bool }

// owned says whether a row names o as its owner, known the way source
// says (JSON only: the text form has no owner source).
func (v mgView) owned(r *mgRow, o mgOwner, source string) bool {
	if v.json {
		return r.pid == o.pid && r.program == o.name && r.source == source
	}
	return r.cell == o.cell()
}

func (v mgView) unowned(r *mgRow) bool {
	if v.json {
		return r.pid == 0 && r.program == "" && r.source == ""
	}
	return r.cell == mgNoOwnerCell
}

func (v mgView) want(o mgOwner, source string) string {
	if v.json {
		return fmt.Sprintf("pid %d, program %q, owner_source %q", o.pid, o.name, source)
	}
	return fmt.Sprintf("owner cell %q", o.cell())
}

var (
	mgRowRe   = regexp.MustCompile(`^(tcp |tcp6)  ([ 0-9]{5}[0-9]) ([ 0-9]{5}[0-9]) (.{23}) (.{23}) (.{11}) (.{20})$`)
	mgGhostRe = regexp.MustCompile(`^(tcp |tcp6)  ([ 0-9]{5}[0-9]) ([ 0-9]{5}[0-9]) (.{23}) (.{23}) (CLOSED     ) (.{20}) lifetime=([0-9]+\.[0-9]{3})ms$`)
	mgStates  = map[string]bool{"ESTABLISHED": true, "SYN_SENT": true, "SYN_RECV": true, "FIN_WAIT1": true, "FIN_WAIT2": true,
		"TIME_WAIT": true, "CLOSE": true, "CLOSE_WAIT": true, "LAST_ACK": true, "LISTEN": true, "CLOSING": true, "UNKNOWN": true}
)

// mgCell splits a left-aligned, space-padded cell; the content must be
// non-empty and without blanks.
func mgCell(cell string) (string, bool) {
	s := strings.TrimRight(cell, " ")
	return s, s != "" && !strings.ContainsAny(s, " \t")
}

// mgAddr parses netstat's numeric "host:port" cell ("*" is port 0).
func mgAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no ':' in %q", s)
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, err
	}
	port := 0
	if s[i+1:] != "*" {
		if port, err = strconv.Atoi(s[i+1:]); err != nil || port <= 0 || port > 65535 {
			return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
		}
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// mgParseRow parses a row in netstat -tanp's layout (or, if ghostOK, a
// ghost row) and says what is wrong with it otherwise.
func mgParseRow(line string, ghostOK bool) (mgRow, error) {
	r := mgRow{line: line}
	m := mgRowRe.FindStringSubmatch(line)
	if ghostOK {
		if g := mgGhostRe.FindStringSubmatch(line); g != nil {
			m, r.ghost = g, true
			if r.lifetime, _ = strconv.ParseFloat(g[8], 64); r.lifetime <= 0 {
				return r, fmt.Errorf("lifetime not positive")
			}
		}
	}
	if m == nil {
		return r, fmt.Errorf("not in netstat's row layout %%-4s  %%6d %%6d %%-23s %%-23s %%-11s %%-20s")
	}
	for _, q := range m[2:4] {
		if strings.TrimSpace(q) != "0" && strings.HasPrefix(strings.TrimSpace(q), "0") {
			return r, fmt.Errorf("bad queue %q", q)
		}
	}
	var err error
	for i, dst := range []*netip.AddrPort{&r.local, &r.foreign} {
		s, ok := mgCell(m[4+i])
		if !ok {
			return r, fmt.Errorf("address cell %q", m[4+i])
		}
		if *dst, err = mgAddr(s); err != nil {
			return r, err
		}
	}
	state, ok := mgCell(m[6])
	if r.ghost {
		state = "CLOSED"
	} else if !ok || !mgStates[state] {
		return r, fmt.Errorf("state cell %q", m[6])
	}
	r.state = state
	r.cell = m[7]
	owner, ok := mgCell(m[7])
	if !ok || (owner != "-" && !regexp.MustCompile(`^[1-9][0-9]*/.+$`).MatchString(owner)) || len(owner) > 19 {
		return r, fmt.Errorf("PID/Program name cell %q", m[7])
	}
	return r, nil
}

// mgParseText splits bpfnetstat -tanpc output into refreshes.
func mgParseText(lines []mgLine, ghostOK bool) ([]mgRefresh, []string) {
	var refs []mgRefresh
	var bad []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.text == mgTitle {
			ref := mgRefresh{at: l.at, title: l.text}
			if i+1 < len(lines) {
				i++
				ref.header, ref.at = lines[i].text, lines[i].at
			}
			refs = append(refs, ref)
			continue
		}
		if len(refs) == 0 {
			bad = append(bad, fmt.Sprintf("before the first listing: %q", l.text))
			continue
		}
		ref := &refs[len(refs)-1]
		ref.at = l.at
		r, err := mgParseRow(l.text, ghostOK)
		if err != nil {
			bad = append(bad, fmt.Sprintf("refresh %d: %v: %q", len(refs), err, l.text))
			continue
		}
		if !r.ghost && len(ref.rows) > 0 && ref.rows[len(ref.rows)-1].ghost {
			bad = append(bad, fmt.Sprintf("refresh %d: live row after a ghost row: %q", len(refs), l.text))
		}
		ref.rows = append(ref.rows, r)
	}
	return refs, bad
}

// mgJSONRow is the part of output.SocketJSON the tests read.
type mgJSONRow struct {
	Protocol      string   `json:"protocol"`
	Family        string   `json:"family"`
	LocalAddress  string   `json:"laddr"`
	LocalPort     *uint16  `json:"lport"`
	RemoteAddress string   `json:"raddr"`
	RemotePort    *uint16  `json:"rport"`
	State         string   `json:"state"`
	Inode         uint64   `json:"inode"`
	PID           int      `json:"pid"`
	Program       string   `json:"program"`
	OwnerSource   string   `json:"owner_source"`
	DurationMS    *float64 `json:"duration_ms"`
}

// mgParseJSON splits bpfnetstat -tanpc --json output into refreshes, one
// JSON array each.
func mgParseJSON(lines []mgLine) ([]mgRefresh, []string) {
	var refs []mgRefresh
	var bad []string
	var texts []string
	for _, l := range lines {
		if l.text == "[" || l.text == "[]" {
			refs = append(refs, mgRefresh{at: l.at})
			texts = append(texts, "")
		} else if len(refs) == 0 {
			bad = append(bad, fmt.Sprintf("before the first array: %q", l.text))
			continue
		}
		texts[len(texts)-1] += l.text + "\n"
		refs[len(refs)-1].at = l.at
	}
	for k, text := range texts {
		var objs []json.RawMessage
		if err := json.Unmarshal([]byte(text), &objs); err != nil {
			bad = append(bad, fmt.Sprintf("refresh %d is not a JSON array: %v\n%s", k+1, err, text))
			continue
		}
		for _, o := range objs {
			var j mgJSONRow
			if err := json.Unmarshal(o, &j); err != nil {
				bad = append(bad, fmt.Sprintf("refresh %d: %v: %s", k+1, err, o))
				continue
			}
			r := mgRow{line: string(o), state: j.State, pid: j.PID, program: j.Program, source: j.OwnerSource, inode: j.Inode}
			la, err1 := netip.ParseAddr(j.LocalAddress)
			ra, err2 := netip.ParseAddr(j.RemoteAddress)
			if j.Protocol != "tcp" || j.Family != "inet" || err1 != nil || err2 != nil || j.LocalPort == nil || j.RemotePort == nil {
				bad = append(bad, fmt.Sprintf("refresh %d: not an IPv4 TCP row with addresses and ports: %s", k+1, o))
				continue
			}
			r.local, r.foreign = netip.AddrPortFrom(la, *j.LocalPort), netip.AddrPortFrom(ra, *j.RemotePort)
			switch {
			case j.DurationMS != nil:
				r.ghost, r.lifetime = true, *j.DurationMS
				if j.State != "CLOSED" {
					bad = append(bad, fmt.Sprintf("refresh %d: a row with duration_ms has state %q, want CLOSED: %s", k+1, j.State, o))
				}
				if j.Inode != 0 {
					bad = append(bad, fmt.Sprintf("refresh %d: ghost row with an inode: %s", k+1, o))
				}
			case j.State == "CLOSED":
				bad = append(bad, fmt.Sprintf("refresh %d: CLOSED row without duration_ms: %s", k+1, o))
			case !mgStates[j.State]:
				bad = append(bad, fmt.Sprintf("refresh %d: state %q: %s", k+1, j.State, o))
			}
			if !r.ghost && len(refs[k].rows) > 0 && refs[k].rows[len(refs[k].rows)-1].ghost {
				bad = append(bad, fmt.Sprintf("refresh %d: live row after a ghost row: %s", k+1, o))
			}
			if (j.PID != 0) != (j.Program != "") || (j.PID != 0) != (j.OwnerSource != "") {
				bad = append(bad, fmt.Sprintf("refresh %d: pid, program and owner_source must come together: %s", k+1, o))
			}
			if j.OwnerSource == "fd" && j.Inode == 0 || j.OwnerSource != "" && j.OwnerSource != "fd" && j.Inode != 0 {
				bad = append(bad, fmt.Sprintf("refresh %d: owner_source %q with inode %d: %s", k+1, j.OwnerSource, j.Inode, o))
			}
			refs[k].rows = append(refs[k].rows, r)
		}
	}
	return refs, bad
}

// mgListingStart is the earliest time listing k (0-based) can have begun:
// bpfnetstat sleeps a second after writing listing k-1.
func mgListingStart(refs []mgRefresh, k int) time.Time {
	if k == 0 {
		return time.Time{}
	}
	return refs[k-1].at.Add(mgPeriod)
}

// mgProblems gathers failures by kind, each kind reported with a few
// examples.
type mgProblems struct {
	kinds []string
	by    map[string][]string
}

func (p *mgProblems) add(kind, format string, args ...any) {
	if p.by == nil {
		p.by = map[string][]string{}
	}
	if _, ok := p.by[kind]; !ok {
		p.kinds = append(p.kinds, kind)
	}
	p.by[kind] = append(p.by[kind], fmt.Sprintf(format, args...))
}

func (p *mgProblems) report(t *testing.T) bool {
	t.Helper()
	for _, k := range p.kinds {
		ex := p.by[k]
		more := ""
		if len(ex) > 8 {
			more = fmt.Sprintf("\n\t... and %d more", len(ex)-8)
			ex = ex[:8]
		}
		t.Errorf("%s (%d):\n\t%s%s", k, len(p.by[k]), strings.Join(ex, "\n\t"), more)
	}
	return len(p.kinds) == 0
}

// mgSide names the two sockets of a connection.
type mgSide int

const (
	mgClientSide mgSide = iota
	mgServerSide
)

func (s mgSide) String() string { return [...]string{"client", "server"}[s] }

// mgMs formats a time relative to the first refresh.
func mgMs(t, base time.Time) string {
	return fmt.Sprintf("%+.1fms", float64(t.Sub(base).Microseconds())/1000)
}

// mgCheckRecent checks the refreshes of bpfnetstat -tanpc --recent (text or
// JSON) against what the workload recorded. With edges, connections that
// were open while a listing ran are held to the rule too: each socket is
// shown, as a live row or as a ghost row, and not as both in one refresh.
func mgCheckRecent(t *testing.T, v mgView, refs []mgRefresh, w *mgWorkload, edges bool) {
	t.Helper()
	var p mgProblems
	base := refs[0].at
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mgPort)
	type ghostAt struct {
		k   int
		row *mgRow
	}
	ghosts := map[mgSide]map[int]ghostAt{mgClientSide: {}, mgServerSide: {}}
	involved := map[int]bool{} // client ports of the connections with problems
	bad := func(port int, kind, format string, args ...any) {
		involved[port] = true
		p.add(kind, format, args...)
	}
	twOwned := map[int]bool{}     // client ports seen in TIME_WAIT with the client's PID
	liveIn := map[[3]int]*mgRow{} // side, refresh, port: a live row other than TIME_WAIT
	for k := range refs {
		ref := &refs[k]
		for i := range ref.rows {
			r := &ref.rows[i]
			var side mgSide
			var port int
			switch {
			case r.foreign == server && r.local.Addr() == server.Addr():
				side, port = mgClientSide, int(r.local.Port())
			case r.local == server && r.foreign.Addr() == server.Addr():
				side, port = mgServerSide, int(r.foreign.Port())
			case r.local == server && r.state == "LISTEN" && !r.ghost:
				if !v.owned(r, w.serverOwn, "fd") {
					p.add("LISTEN row without the server as owner", "refresh %d: %s (want %s)", k+1, r.line, v.want(w.serverOwn, "fd"))
				}
				continue
			default:
				p.add("row of no workload connection", "refresh %d: %s", k+1, r.line)
				continue
			}
			c := w.conns[port]
			own, src := w.clientOwn, "connect"
			if side == mgServerSide {
				own, src = w.serverOwn, "accept"
			}
			if c == nil {
				bad(port, "row of a connection the client did not make", "refresh %d: %s", k+1, r.line)
				continue
			}
			if !r.ghost {
				switch {
				case r.state == "TIME_WAIT" && side == mgClientSide:
					if v.owned(r, w.clientOwn, "connect") {
						twOwned[port] = true
					} else {
						bad(port, "TIME_WAIT row of the client without the client's PID", "refresh %d: %s (want %s)", k+1, r.line, v.want(w.clientOwn, "connect"))
					}
				case r.state == "TIME_WAIT":
					bad(port, "TIME_WAIT on the server side (the client closes first)", "refresh %d: %s", k+1, r.line)
				default:
					liveIn[[3]int{int(side), k, port}] = r
					// A socket with an inode: its owner from the fd scan, or
					// "-" when it appeared after the scan. One that no
					// process held when it was listed (JSON inode 0: a server
					// connection not accepted yet) can only be named by the
					// tracer, which may have seen its accept by then.
					ok := v.owned(r, own, "fd") || v.unowned(r)
					if v.json && r.inode == 0 {
						ok = ok || v.owned(r, own, src) || (side == mgServerSide && v.owned(r, own, "listener"))
					}
					if !ok {
						bad(port, "live row with a wrong owner", "refresh %d: %s (want %s or none)", k+1, r.line, v.want(own, "fd"))
					}
				}
				continue
			}
			if !v.owned(r, own, src) {
				bad(port, "ghost row without the right owner", "refresh %d: %s (want %s)", k+1, r.line, v.want(own, src))
			}
			if prev, ok := ghosts[side][port]; ok {
				bad(port, "ghost row repeated", "%s side of port %d: refresh %d: %s and refresh %d: %s", side, port, prev.k+1, prev.row.line, k+1, r.line)
				continue
			}
			ghosts[side][port] = ghostAt{k, r}
			// The client's socket was born within [s, d] and closed
			// within [f, c]; the server's within a few ms of those.
			lo, hi := float64(c.f.Sub(c.d).Microseconds())/1000, float64(c.c.Sub(c.s).Microseconds())/1000
			tol := 1.0
			if side == mgServerSide {
				tol = float64(mgSlack.Milliseconds())
			}
			if r.lifetime <= 0 || r.lifetime >= float64(mgPeriod.Milliseconds()) || r.lifetime < lo-tol || r.lifetime > hi+tol {
				bad(port, "ghost lifetime outside what the client measured", "refresh %d: %s: lifetime %.3fms, client measured [%.3f, %.3f]ms", k+1, r.line, r.lifetime, lo, hi)
			}
			// The ghost comes in the first listing after the close: the
			// connection closed before this listing was printed, and not
			// before the previous listing had started.
			if c.f.After(ref.at) {
				bad(port, "ghost row before the connection closed", "refresh %d at %s: %s (shutdown at %s)", k+1, mgMs(ref.at, base), r.line, mgMs(c.f, base))
			}
			if k >= 1 && c.c.Before(mgListingStart(refs, k-1).Add(-mgSlack)) {
				bad(port, "ghost row late: the connection closed before the previous listing started", "refresh %d: %s (closed by %s, refresh %d started after %s)",
					k+1, r.line, mgMs(c.c, base), k, mgMs(mgListingStart(refs, k-1), base))
			}
		}
	}

	// Which connections the refreshes must show, and how.
	strict, boundary, late := 0, 0, 0
	var unshown []string
	for _, port := range w.ports {
		c := w.conns[port]
		for k := 1; k < len(refs); k++ {
			if !c.c.Before(mgListingStart(refs, k).Add(-mgSlack)) {
				continue
			}
			// Closed before listing k started: TIME_WAIT for 60 s.
			found := false
			for i := range refs[k].rows {
				r := &refs[k].rows[i]
				found = found || (!r.ghost && r.state == "TIME_WAIT" && int(r.local.Port()) == port && r.foreign == server)
			}
			if !found {
				bad(port, "TIME_WAIT row missing", "refresh %d: client port %d closed at %s, before the listing started (after %s)", k+1, port, mgMs(c.c, base), mgMs(mgListingStart(refs, k), base))
			}
		}
		gap := -1 // the pause between listings that holds the whole connection
		for k := 1; k < len(refs); k++ {
			if c.s.After(refs[k-1].at.Add(mgSlack)) && c.c.Before(mgListingStart(refs, k).Add(-mgSlack)) {
				gap = k
			}
		}
		if c.c.After(mgListingStart(refs, len(refs)-1).Add(-mgSlack)) {
			late++ // may close after the last listing: nothing to require
			continue
		}
		if gap >= 0 {
			strict++
			for _, side := range []mgSide{mgClientSide, mgServerSide} {
				g, ok := ghosts[side][port]
				switch {
				case !ok:
					bad(port, "ghost row missing", "%s side of port %d: opened at %s and closed at %s, between refresh %d (%s) and the start of refresh %d (after %s), but no ghost row",
						side, port, mgMs(c.s, base), mgMs(c.c, base), gap, mgMs(refs[gap-1].at, base), gap+1, mgMs(mgListingStart(refs, gap), base))
				case g.k != gap:
					bad(port, "ghost row in the wrong refresh", "%s side of port %d: opened at %s, closed at %s: want it in refresh %d, got refresh %d: %s",
						side, port, mgMs(c.s, base), mgMs(c.c, base), gap+1, g.k+1, g.row.line)
				}
			}
			continue
		}
		// Open while a listing ran: it may be a ghost of either refresh
		// or none; the client's side must at least show up with the
		// client's PID.
		boundary++
		if _, ok := ghosts[mgClientSide][port]; !ok && !twOwned[port] {
			bad(port, "client connection shown nowhere", "port %d (opened %s, closed %s): neither a ghost row nor a TIME_WAIT row with the client's PID", port, mgMs(c.s, base), mgMs(c.c, base))
		}
		for _, side := range []mgSide{mgClientSide, mgServerSide} {
			g, seen := ghosts[side][port]
			live := false
			for k := range refs {
				live = live || liveIn[[3]int{int(side), k, port}] != nil
			}
			what := fmt.Sprintf("%s side of port %d (opened %s, closed %s)", side, port, mgMs(c.s, base), mgMs(c.c, base))
			k := 0 // the listing that was running when it closed
			for k < len(refs)-1 && refs[k].at.Before(c.c) {
				k++
			}
			switch {
			case !seen && !live:
				unshown = append(unshown, what)
				if edges {
					bad(port, "connection in no refresh: neither a live row (other than TIME_WAIT) nor a ghost row",
						"%s: listing %d started after %s and was complete at %s, without it; no later listing has it either", what, k+1, mgMs(mgListingStart(refs, k), base), mgMs(refs[k].at, base))
				}
			case seen && edges && liveIn[[3]int{int(side), g.k, port}] != nil:
				bad(port, "connection shown twice in one refresh: as a live row and as a ghost row", "refresh %d: %s:\n\t\t%s\n\t\t%s", g.k+1, what, liveIn[[3]int{int(side), g.k, port}].line, g.row.line)
			}
		}
	}
	t.Logf("%d refreshes at %s; %d connections: %d inside a pause between listings (ghost rows required), %d overlapping a listing, %d at the end",
		len(refs), mgRefreshTimes(refs), len(w.ports), strict, boundary, late)
	if len(unshown) > 0 && !edges {
		t.Logf("sockets of connections overlapping a listing that appear in no refresh (neither a live row other than TIME_WAIT nor a ghost row; tolerated here, see TestMergedRecentEdges): %s", strings.Join(unshown, ", "))
	}
	if strict < len(w.ports)/2 && !edges {
		p.add("too few connections fell inside pauses to test ghost rows", "%d of %d; listings at %s", strict, len(w.ports), mgRefreshTimes(refs))
	}
	if len(twOwned) == 0 {
		p.add("no TIME_WAIT row of the client at all", "%d connections", len(w.ports))
	}
	if !p.report(t) {
		var b strings.Builder
		for _, port := range w.ports {
			c := w.conns[port]
			if len(w.ports) > 60 && !involved[port] {
				continue
			}
			fmt.Fprintf(&b, "\n\tport %d: dial %s..%s shutdown %s EOF %s", port, mgMs(c.s, base), mgMs(c.d, base), mgMs(c.f, base), mgMs(c.c, base))
		}
		t.Logf("client connections (with problems, when there are many; times relative to the end of refresh 1):%s", b.String())
	}
}

func mgRefreshTimes(refs []mgRefresh) string {
	var s []string
	for _, r := range refs {
		s = append(s, mgMs(r.at, refs[0].at))
	}
	return strings.Join(s, " ")
}

// mgNetstat runs the real netstat in the namespace.
func mgNetstat(t *testing.T, ns *netns, nobody bool, args ...string) (stdout, stderr string) {
	t.Helper()
	argv := []string{"netns", "exec", ns.name}
	if nobody {
		argv = append(argv, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
	}
	cmd := exec.Command("ip", append(append(argv, realNetstat), args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("netstat %s: %v\n%s", strings.Join(args, " "), err, e.String())
	}
	return o.String(), e.String()
}

// mgRun starts bpfnetstat with args in the namespace and waits for its
// first listing: the tracer is attached before that starts.
func mgRun(t *testing.T, ns *netns, nobody bool, ours string, first func(string) bool, args ...string) *mgProc {
	t.Helper()
	p := mgStart(t, ns, nobody, append([]string{ours}, args...)...)
	p.waitFor(t, "first listing", 0, first)
	return p
}

// mgFinish waits for the client to finish, then for a refresh that started
// after its last connection closed, and interrupts bpfnetstat.
func mgFinish(t *testing.T, p *mgProc, w *mgWorkload, title func(string) bool) {
	t.Helper()
	w.wait(t)
	// The listing whose predecessor arrived more than a pause before the
	// last close started after it.
	var prev time.Time
	for from := 0; ; {
		i, l := p.waitFor(t, "a listing after the workload", from, title)
		if !prev.IsZero() && prev.Add(mgPeriod).After(w.lastClose.Add(mgSlack)) {
			break
		}
		prev, from = l.at, i+1
	}
	time.Sleep(200 * time.Millisecond) // the listing is written at once; let it arrive
	p.interrupt(t)
}

func mgIsTitle(s string) bool { return s == mgTitle }

func mgIsArray(s string) bool { return s == "[" || s == "[]" }

// mgHeader is netstat -tanp's two header lines in the namespace.
func mgHeader(t *testing.T, ns *netns) (title, header string) {
	t.Helper()
	out, _ := mgNetstat(t, ns, false, "-tanp")
	lines := strings.SplitN(out, "\n", 3)
	if len(lines) < 3 || lines[0] != mgTitle {
		t.Fatalf("netstat -tanp: unexpected output %q", out)
	}
	return lines[0], lines[1]
}

func mgCheckHeaders(t *testing.T, refs []mgRefresh, title, header string) {
	t.Helper()
	for k, r := range refs {
		if r.title != title || r.header != header {
			t.Errorf("refresh %d: header lines\n\t%q\n\t%q\nwant netstat -tanp's\n\t%q\n\t%q", k+1, r.title, r.header, title, header)
		}
	}
}

func mgCheckStderrEmpty(t *testing.T, p *mgProc) {
	t.Helper()
	if _, stderr := p.snapshot(); stderr != "" {
		t.Errorf("stderr of %s is not empty (the tracer should have attached silently):\n%s", p.name, stderr)
	}
}

// TestMergedRecent: bpfnetstat -tanpc --recent while a client churns short
// connections (20 per second, 5 ms each, for 2.5 s).
func TestMergedRecent(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	ns := mgNewNetns(t)
	title, header := mgHeader(t, ns)
	p := mgRun(t, ns, false, ours, mgIsTitle, "-tanpc", "--recent")
	w := mgStartWorkload(t, ns, false, tw, "-n", "50", "-interval", "50ms", "-hold", "5ms")
	mgFinish(t, p, w, mgIsTitle)
	lines, _ := p.snapshot()
	refs, bad := mgParseText(lines, true)
	for _, b := range bad {
		t.Error(b)
	}
	if len(refs) < 3 {
		t.Fatalf("%d refreshes, want at least 3\n%s", len(refs), p.text())
	}
	mgCheckHeaders(t, refs, title, header)
	mgCheckStderrEmpty(t, p)
	mgCheckRecent(t, mgView{}, refs, w, false)
	if t.Failed() {
		t.Logf("bpfnetstat %s (client PID %d, server PID %d):\n%s", p.name, w.clientOwn.pid, w.serverOwn.pid, p.text())
	}
}

// TestMergedRecentEdges: the connections TestMergedRecent tolerates, made
// on purpose. Around the time each listing starts (a pause after the
// previous one arrived) the client runs connections back to back for 70 ms,
// so that some are open when the listing reads the kernel's tables, some
// open or close while it renders, some right after. Every socket must
// still be shown once: as a live row, or as a ghost row in the refresh
// after it closed, not both in one refresh.
func TestMergedRecentEdges(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	ns := mgNewNetns(t)
	p := mgRun(t, ns, false, ours, mgIsTitle, "-tanpc", "--recent")
	w := mgStartWorkload(t, ns, false, tw, "-n", "0")
	w.wait(t)
	lines, _ := p.snapshot()
	from := len(lines)
	for burst := 0; burst < 3; burst++ {
		i, l := p.waitFor(t, "a listing", from, mgIsTitle)
		from = i + 1
		time.Sleep(time.Until(l.at.Add(mgPeriod - 10*time.Millisecond)))
		io.WriteString(w.client.stdin, "burst 70ms\n")
	}
	n := 0
	w.client.waitFor(t, "the last burst", 0, func(s string) bool {
		if s == "burst-done" {
			n++
		}
		return n == 3
	})
	w.collect(t)
	mgFinish(t, p, w, mgIsTitle)
	lines, _ = p.snapshot()
	refs, bad := mgParseText(lines, true)
	for _, b := range bad {
		t.Error(b)
	}
	mgCheckStderrEmpty(t, p)
	mgCheckRecent(t, mgView{}, refs, w, true)
	if t.Failed() {
		t.Logf("bpfnetstat %s (client PID %d, server PID %d):\n%s", p.name, w.clientOwn.pid, w.serverOwn.pid, p.text())
	}
}

// TestMergedJSON: bpfnetstat -tanpc --recent --json, 2-3 refreshes.
func TestMergedJSON(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	ns := mgNewNetns(t)
	p := mgRun(t, ns, false, ours, mgIsArray, "-tanpc", "--recent", "--json")
	w := mgStartWorkload(t, ns, false, tw, "-n", "30", "-interval", "50ms", "-hold", "5ms")
	mgFinish(t, p, w, mgIsArray)
	lines, _ := p.snapshot()
	refs, bad := mgParseJSON(lines)
	for _, b := range bad {
		t.Error(b)
	}
	if len(refs) < 3 {
		t.Fatalf("%d refreshes, want at least 3\n%s", len(refs), p.text())
	}
	mgCheckStderrEmpty(t, p)
	mgCheckRecent(t, mgView{json: true}, refs, w, false)
	if t.Failed() {
		t.Logf("bpfnetstat %s (client PID %d, server PID %d):\n%s", p.name, w.clientOwn.pid, w.serverOwn.pid, p.text())
	}
}

// mgNetstatRows parses real netstat -tanp output (title, header, rows).
func mgNetstatRows(t *testing.T, out string) map[[2]netip.AddrPort]mgRow {
	t.Helper()
	rows := map[[2]netip.AddrPort]mgRow{}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[2:] {
		r, err := mgParseRow(l, false)
		if err != nil {
			t.Fatalf("netstat row %q: %v (the harness's layout is wrong)", l, err)
		}
		rows[r.key()] = r
	}
	return rows
}

// TestMergedLayout: without --recent each refresh of bpfnetstat -tanpc is
// netstat -tanp's listing, except that TIME_WAIT rows name their owner. A
// real netstat -tanp runs right after each refresh arrives.
func TestMergedLayout(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	ns := mgNewNetns(t)
	title, header := mgHeader(t, ns)
	p := mgRun(t, ns, false, ours, mgIsTitle, "-tanpc")
	w := mgStartWorkload(t, ns, false, tw, "-n", "50", "-interval", "50ms", "-hold", "5ms")
	// Right after each refresh that arrives from now on, the real netstat.
	real := map[int]string{} // by refresh index
	lines, _ := p.snapshot()
	from, n := len(lines), 0
	for _, l := range lines {
		if mgIsTitle(l.text) {
			n++
		}
	}
	for {
		i, _ := p.waitFor(t, "a listing", from, mgIsTitle)
		from = i + 1
		out, _ := mgNetstat(t, ns, false, "-tanp")
		real[n] = out
		n++
		select {
		case <-w.client.exited:
			t.Fatalf("client exited early\n%s", w.client.text())
		default:
		}
		lines, _ := w.client.snapshot()
		if len(lines) > 0 && lines[len(lines)-1].text == "done" && len(real) >= 3 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	p.interrupt(t)
	w.wait(t)
	lines, _ = p.snapshot()
	refs, bad := mgParseText(lines, false)
	for _, b := range bad {
		t.Error(b)
	}
	mgCheckHeaders(t, refs, title, header)
	mgCheckStderrEmpty(t, p)
	if len(refs) < n {
		t.Fatalf("%d refreshes, but netstat ran after %d", len(refs), n)
	}
	var pr mgProblems
	tw2 := 0
	var realText []string
	for k := range refs {
		out, ok := real[k]
		if !ok {
			continue
		}
		realText = append(realText, fmt.Sprintf("after refresh %d:\n%s", k+1, out))
		ns := mgNetstatRows(t, out)
		for i := range refs[k].rows {
			r := &refs[k].rows[i]
			n, ok := ns[r.key()]
			switch {
			case r.state == "TIME_WAIT":
				// TIME_WAIT lasts 60 s: netstat, a moment later, lists it too.
				if !ok || n.state != "TIME_WAIT" {
					pr.add("TIME_WAIT row that netstat does not list", "refresh %d: %s", k+1, r.line)
					continue
				}
				tw2++
				if n.cell != mgNoOwnerCell {
					pr.add("netstat names a TIME_WAIT owner (harness assumption broken)", "%s", n.line)
				}
				want := n.line[:len(n.line)-20] + w.clientOwn.cell()
				if r.line != want {
					pr.add("TIME_WAIT row differs from netstat's with the client's PID", "refresh %d:\n\tgot  %q\n\twant %q", k+1, r.line, want)
				}
			case r.state == "LISTEN":
				// The accept queue (Recv-Q) moves while connections churn
				// between the two runs; everything else must match.
				if mgMaskRecvQ(r.line) != mgMaskRecvQ(n.line) {
					pr.add("LISTEN row differs from netstat's", "refresh %d:\n\tgot  %q\n\twant %q", k+1, r.line, n.line)
				}
			case ok && n.state == r.state && r.cell != mgNoOwnerCell && n.cell != mgNoOwnerCell && r.cell != n.cell:
				pr.add("owner differs from netstat's", "refresh %d:\n\tgot  %q\n\twant %q", k+1, r.line, n.line)
			}
		}
		for _, n := range ns {
			if n.state == "LISTEN" {
				found := false
				for i := range refs[k].rows {
					found = found || mgMaskRecvQ(refs[k].rows[i].line) == mgMaskRecvQ(n.line)
				}
				if !found {
					pr.add("netstat's LISTEN row missing", "refresh %d: %s", k+1, n.line)
				}
			}
		}
	}
	if tw2 == 0 {
		pr.add("no TIME_WAIT row compared", "%d refreshes", len(real))
	}
	if !pr.report(t) {
		t.Logf("bpfnetstat:\n%s\nnetstat runs:\n%s", p.text(), strings.Join(realText, ""))
	} else {
		t.Logf("%d refreshes compared with netstat -tanp, %d TIME_WAIT rows", len(real), tw2)
	}
}

// TestMergedWithoutBPF: as nobody the tracer cannot start: one stderr line
// says why; TIME_WAIT owners come from the previous refresh. The workload
// runs as nobody too, so that the fd scan can read its sockets; its
// connections live 1.3 s, so each is seen open with its owner before it
// ends in TIME_WAIT.
func TestMergedWithoutBPF(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	ns := mgNewNetns(t)
	title, header := mgHeader(t, ns)
	p := mgRun(t, ns, true, ours, mgIsTitle, "-tanpc")
	w := mgStartWorkload(t, ns, true, tw, "-n", "4", "-interval", "250ms", "-hold", "1300ms")
	_, warning := mgNetstat(t, ns, true, "-tanp")
	mgFinish(t, p, w, mgIsTitle)
	lines, stderr := p.snapshot()
	refs, bad := mgParseText(lines, false)
	for _, b := range bad {
		t.Error(b)
	}
	mgCheckHeaders(t, refs, title, header)

	// Stderr: bpfnetstat's one line, then what netstat -p itself prints as
	// nobody, once per listing: "No info" while no process of nobody's has
	// a socket (the first listing, before the workload), "Not all" after.
	first, rest, _ := strings.Cut(stderr, "\n")
	if !strings.HasPrefix(first, "bpfnetstat: ") || !strings.Contains(first, "root") {
		t.Errorf("first stderr line %q: want one bpfnetstat line saying that eBPF needs root", first)
	}
	if warning != notAllWarning {
		t.Fatalf("netstat -tanp as nobody with the workload running: stderr %q, want %q", warning, notAllWarning)
	}
	if want := noInfoWarning + strings.Repeat(notAllWarning, len(refs)-1); rest != want && !(hostHasNobodySockets() && rest == strings.Repeat(notAllWarning, len(refs))) {
		t.Errorf("stderr after bpfnetstat's line:\n%q\nwant netstat's own -p warning once per listing (%d):\n%q", rest, len(refs), want)
	}

	var pr mgProblems
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mgPort)
	remembered := 0
	prev := map[[2]netip.AddrPort]string{}
	for k := range refs {
		cur := map[[2]netip.AddrPort]string{}
		for i := range refs[k].rows {
			r := &refs[k].rows[i]
			cur[r.key()] = r.cell
			if r.state != "TIME_WAIT" {
				continue
			}
			if r.foreign != server || w.conns[int(r.local.Port())] == nil {
				pr.add("TIME_WAIT row of no client connection", "refresh %d: %s", k+1, r.line)
				continue
			}
			// Remembered when the previous listing named the owner of the
			// same 4-tuple (with an inode, or remembered in turn).
			want := mgNoOwnerCell
			if c, ok := prev[r.key()]; ok && c != mgNoOwnerCell {
				want = c
			}
			if want != mgNoOwnerCell && want != w.clientOwn.cell() {
				pr.add("previous listing named a wrong owner", "refresh %d: %q", k, want)
			}
			if r.cell != want {
				pr.add("TIME_WAIT owner not what the previous refresh knew", "refresh %d: %s\n\twant owner cell %q (previous listing: %q)", k+1, r.line, want, prev[r.key()])
			}
			if r.cell == w.clientOwn.cell() {
				remembered++
			}
		}
		prev = cur
	}
	if remembered == 0 {
		pr.add("no TIME_WAIT row with a remembered owner", "%d refreshes", len(refs))
	}
	if !pr.report(t) {
		t.Logf("bpfnetstat %s (client PID %d):\n%s", p.name, w.clientOwn.pid, p.text())
	} else {
		t.Logf("%d refreshes, %d TIME_WAIT rows with a remembered owner", len(refs), remembered)
	}
}

// mgMaskRecvQ blanks the Recv-Q column of a netstat Internet row.
func mgMaskRecvQ(line string) string {
	if len(line) < 12 {
		return line
	}
	return line[:6] + "      " + line[12:]
}
