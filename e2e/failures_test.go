package e2e

// TestTracerFailures makes TCP connections end each abnormal way with real
// processes (e2e/internal/fails), in a namespace routed through a second
// one over a veth pair, and holds `bpfnetstat life --json`, `life --json
// --failed` and `trace --json` against what the processes saw and against
// the wire: tcpdump in the client namespace records every SYN, whose
// source port is the local port the kernel really used, the port an
// auditor matches against firewall and server logs.
//
//   - refused: connects to closed ports on 127.0.0.1 and ::1 (RST);
//   - timeout: a connect to 203.0.113.10, which the router drops (blackhole
//     route), with net.ipv4.tcp_syn_retries=1;
//   - unreachable: a connect to 198.51.100.10, for which the router answers
//     ICMP host unreachable (unreachable route);
//   - abandoned: a non-blocking connect closed while still in SYN_SENT;
//   - reset and aborted: a server closes its accepted connection with
//     SO_LINGER 0 (aborted), its client reads the RST (reset);
//   - not_accepted: a connection the listener never accepts, aborted when
//     the listener closes (its client: reset);
//   - reset before accept: a client aborts (SO_LINGER 0) while its
//     connection waits in the accept queue, and the server accepts it
//     after: the server socket ended before any process held it;
//   - and one normal connection, which has no error and which --failed
//     leaves out.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// fRecord is a line of the fails workload.
type fRecord struct {
	Case   string `json:"case"`
	PID    int    `json:"pid"`
	Cookie uint64 `json:"cookie"`
	LAddr  string `json:"laddr"`
	LPort  int    `json:"lport"`
	RAddr  string `json:"raddr"`
	RPort  int    `json:"rport"`
	Err    string `json:"err"`
}

// fWant is one socket life must report.
type fWant struct {
	what          string
	cookie        uint64 // 0: find by tuple (a socket no process held)
	pid           int
	family        string
	laddr, raddr  string
	lport, rport  int
	dir, source   string
	err           string // life's error name, "" for none
	processErrno  string // what the process saw, checked as a premise
	synFromClient bool   // lport (client) or rport (server) is a SYN's source port
}

func TestTracerFailures(t *testing.T) {
	trRequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatal("needs tcpdump (scripts/install-test-deps.sh), and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping")
		}
		t.Skip("needs tcpdump (scripts/install-test-deps.sh)")
	}
	bins := trBuild(t)
	fails := filepath.Join(t.TempDir(), "fails")
	if out, err := exec.Command("go", "build", "-o", fails, "./internal/fails").CombinedOutput(); err != nil {
		t.Fatalf("go build fails: %v\n%s", err, out)
	}
	cli, peer := trNewNetns(t), trNewNetns(t)
	fRoute(t, cli.name, peer.name)
	in := func(args ...string) []string { return append([]string{"ip", "netns", "exec", cli.name}, args...) }
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(in("sysctl", "-qw", "net.ipv4.tcp_syn_retries=1")...)

	syns := fStartTcpdump(t, in("tcpdump", "-i", "any", "-l", "-nn", "-U", "tcp")...)

	enter := []string{"ip", "netns", "exec", cli.name}
	life := trStartTracer(t, enter, bins.ours, "life", "--json")
	failed := trStartTracer(t, enter, bins.ours, "life", "--json", "--failed")
	trace := trStartTracer(t, enter, bins.ours, "trace", "--json")

	var recs []fRecord
	oneShot := func(mode, addr string) fRecord {
		t.Helper()
		out, err := exec.Command(in(fails, mode, addr)[0], in(fails, mode, addr)[1:]...).Output()
		if err != nil {
			t.Fatalf("fails %s %s: %v", mode, addr, err)
		}
		var r fRecord
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("fails %s %s: %v: %q", mode, addr, err, out)
		}
		recs = append(recs, r)
		return r
	}
	serve := func(mode, addr string) (*exec.Cmd, *bufio.Scanner, func()) {
		t.Helper()
		args := in(fails, mode, addr)
		cmd := exec.Command(args[0], args[1:]...)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "ready" {
			t.Fatalf("fails %s %s did not get ready", mode, addr)
		}
		return cmd, sc, func() { stdin.Close() }
	}
	finish := func(cmd *exec.Cmd, sc *bufio.Scanner) fRecord {
		t.Helper()
		var r fRecord
		if !sc.Scan() || json.Unmarshal(sc.Bytes(), &r) != nil {
			t.Fatalf("%v: no record", cmd.Args)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		recs = append(recs, r)
		return r
	}

	var want []fWant
	client := func(r fRecord, family, laddr, errName string) fWant {
		return fWant{what: r.Case + " client to " + strconv.Itoa(r.RPort), cookie: r.Cookie, pid: r.PID, family: family,
			laddr: laddr, raddr: r.RAddr, rport: r.RPort, lport: r.LPort, dir: "active", source: "connect",
			err: errName, processErrno: r.Err, synFromClient: true}
	}
	for i, port := range []int{7001, 7002, 7003} {
		r := oneShot("connect", fmt.Sprintf("127.0.0.1:%d", port))
		want = append(want, client(r, "inet", "127.0.0.1", "refused"))
		want[i].processErrno = "ECONNREFUSED"
		if r.Err != "ECONNREFUSED" {
			t.Fatalf("premise: connect to a closed port got %q, want ECONNREFUSED", r.Err)
		}
	}
	r := oneShot("connect", "[::1]:7004")
	want = append(want, client(r, "inet6", "::1", "refused"))
	r = oneShot("connect", "198.51.100.10:7020")
	want = append(want, client(r, "inet", "192.0.2.1", "unreachable"))
	r = oneShot("connect", "203.0.113.10:7010")
	want = append(want, client(r, "inet", "192.0.2.1", "timeout"))
	r = oneShot("abandon", "203.0.113.10:7050")
	want = append(want, client(r, "inet", "192.0.2.1", "abandoned"))

	// reset / aborted
	srv, sc, _ := serve("linger-server", "127.0.0.1:7030")
	rc := oneShot("read-client", "127.0.0.1:7030")
	rs := finish(srv, sc)
	want = append(want, client(rc, "inet", "127.0.0.1", "reset"),
		fWant{what: "SO_LINGER 0 server", cookie: rs.Cookie, pid: rs.PID, family: "inet", laddr: "127.0.0.1", lport: 7030,
			raddr: "127.0.0.1", rport: rc.LPort, dir: "passive", source: "accept", err: "aborted"})

	// not accepted
	bl, bsc, closeBL := serve("backlog-server", "127.0.0.1:7040")
	holdArgs := in(fails, "hold-client", "127.0.0.1:7040")
	hold := exec.Command(holdArgs[0], holdArgs[1:]...)
	holdOut, _ := hold.StdoutPipe()
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	fWaitEstablished(t, cli.name, 7040)
	closeBL()
	rb := finish(bl, bsc)
	var rh fRecord
	if err := json.NewDecoder(holdOut).Decode(&rh); err != nil {
		t.Fatalf("hold-client: %v", err)
	}
	hold.Wait()
	recs = append(recs, rh)
	want = append(want, client(rh, "inet", "127.0.0.1", "reset"),
		fWant{what: "never-accepted server socket", pid: rb.PID, family: "inet", laddr: "127.0.0.1", lport: 7040,
			raddr: "127.0.0.1", rport: rh.LPort, dir: "passive", source: "listener", err: "not_accepted"})

	// reset before accept: the client aborts while its connection waits
	// in the accept queue, and the server accepts it after that.
	late, lsc, acceptNow := serve("late-server", "127.0.0.1:7070")
	ra := oneShot("abort-client", "127.0.0.1:7070")
	fWaitResetInQueue(t, cli.name, 7070)
	acceptNow()
	rl := finish(late, lsc)
	want = append(want, client(ra, "inet", "127.0.0.1", "aborted"),
		fWant{what: "server socket reset before its accept", cookie: rl.Cookie, pid: rl.PID, family: "inet", laddr: "127.0.0.1", lport: 7070,
			raddr: "127.0.0.1", rport: ra.LPort, dir: "passive", source: "listener", err: "reset"})

	// normal
	ns, nsc, _ := serve("normal-server", "127.0.0.1:7060")
	rn := oneShot("normal-client", "127.0.0.1:7060")
	rns := finish(ns, nsc)
	want = append(want, client(rn, "inet", "127.0.0.1", ""),
		fWant{what: "normal server", cookie: rns.Cookie, pid: rns.PID, family: "inet", laddr: "127.0.0.1", lport: 7060,
			raddr: "127.0.0.1", rport: rn.LPort, dir: "passive", source: "accept"})

	time.Sleep(300 * time.Millisecond) // the last FIN/ACK cross loopback
	for _, tr := range []*trTracer{life, failed, trace} {
		tr.stop(t, syscall.SIGINT)
	}
	synPorts := syns()

	// Premises: the processes saw the errors the cases are about.
	premise := map[string]string{"refused": "ECONNREFUSED", "unreachable": "EHOSTUNREACH", "timeout": "ETIMEDOUT", "reset": "ECONNRESET"}
	for _, w := range want {
		if p, ok := premise[w.err]; ok && w.synFromClient && w.processErrno != p {
			t.Fatalf("premise: %s saw %q, want %s", w.what, w.processErrno, p)
		}
	}
	// The truth of every client port: the source port of its SYNs.
	for i := range want {
		w := &want[i]
		if w.synFromClient {
			ports := synPorts[fmt.Sprintf("%s.%d", w.raddr, w.rport)]
			if len(ports) != 1 {
				t.Fatalf("%s: SYNs to %s:%d from ports %v, want one port", w.what, w.raddr, w.rport, ports)
			}
			if w.lport != 0 && w.lport != ports[0] {
				t.Fatalf("%s: the process saw local port %d, its SYN came from %d", w.what, w.lport, ports[0])
			}
			w.lport = ports[0]
		}
	}
	for i := range want {
		// The server side's remote port is its client's.
		w := &want[i]
		if w.dir == "passive" {
			for _, c := range want {
				if c.synFromClient && c.rport == w.lport {
					w.rport = c.lport
				}
			}
		}
	}

	lifeRows := trParseLines[trLifeRow](t, life.stdoutPath, trLifeFields)
	failedRows := trParseLines[trLifeRow](t, failed.stdoutPath, trLifeFields)
	traceRows := trParseLines[trTraceRow](t, trace.stdoutPath, trTraceFields)

	t.Run("stderr", func(t *testing.T) {
		for _, tr := range []*trTracer{life, failed, trace} {
			tr.checkStderr(t)
		}
	})
	t.Run("life", func(t *testing.T) { fCheckLife(t, want, lifeRows, false) })
	t.Run("life --failed", func(t *testing.T) { fCheckLife(t, want, failedRows, true) })
	t.Run("trace", func(t *testing.T) { fCheckTrace(t, want, traceRows) })
}

// fFind returns the rows of a wanted socket: by cookie, or by tuple.
func fFind[T any](w fWant, rows []*T, key func(*T) (uint64, string)) []*T {
	var out []*T
	tuple := fmt.Sprintf("%s|%s|%d|%s|%d", w.family, w.laddr, w.lport, w.raddr, w.rport)
	for _, r := range rows {
		c, tu := key(r)
		if w.cookie != 0 && c == w.cookie || w.cookie == 0 && tu == tuple {
			out = append(out, r)
		}
	}
	return out
}

func lifeKey(r *trLifeRow) (uint64, string) {
	return r.Cookie, fmt.Sprintf("%s|%s|%d|%s|%d", r.Family, r.LAddr, r.LPort, r.RAddr, r.RPort)
}

func traceKey(r *trTraceRow) (uint64, string) {
	return r.Cookie, fmt.Sprintf("%s|%s|%d|%s|%d", r.Family, r.LAddr, r.LPort, r.RAddr, r.RPort)
}

func fCheckLife(t *testing.T, want []fWant, rows []*trLifeRow, onlyFailed bool) {
	matched := map[*trLifeRow]bool{}
	for _, w := range want {
		got := fFind(w, rows, lifeKey)
		for _, r := range got {
			matched[r] = true
		}
		if onlyFailed && w.err == "" {
			if len(got) != 0 {
				t.Errorf("%s: --failed printed a connection without error: %s", w.what, got[0].raw)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d rows, want exactly 1", w.what, len(got))
			for _, r := range got {
				t.Logf("  %s", r.raw)
			}
			continue
		}
		r := got[0]
		if fEndUnseen(w, r.Error) {
			// Its end was hidden from every program (README): the record
			// must still be there, owned exactly, from its port to the
			// address connected; its remote port and error were gone when
			// the socket was freed.
			t.Logf("%s: end unseen: %s", w.what, r.raw)
			if r.PID != w.pid || r.Comm != "fails" || r.LPort != w.lport || r.RAddr != w.raddr || r.Direction != w.dir || r.OwnerSource != w.source {
				t.Errorf("%s: end unseen, but owner %d/%s %s/%s from port %d to %s, want %d/fails %s/%s from %d to %s: %s", w.what, r.PID, r.Comm,
					r.Direction, r.OwnerSource, r.LPort, r.RAddr, w.pid, w.dir, w.source, w.lport, w.raddr, r.raw)
			}
			continue
		}
		if r.PID != w.pid || r.Comm != "fails" {
			t.Errorf("%s: owner %d/%s, want %d/fails: %s", w.what, r.PID, r.Comm, w.pid, r.raw)
		}
		if r.Family != w.family || r.LAddr != w.laddr || r.LPort != w.lport || r.RAddr != w.raddr || r.RPort != w.rport {
			t.Errorf("%s: tuple %s %s:%d -> %s:%d, want %s %s:%d -> %s:%d: %s", w.what, r.Family, r.LAddr, r.LPort, r.RAddr, r.RPort,
				w.family, w.laddr, w.lport, w.raddr, w.rport, r.raw)
		}
		if r.Direction != w.dir || r.OwnerSource != w.source {
			t.Errorf("%s: %s/%s, want %s/%s: %s", w.what, r.Direction, r.OwnerSource, w.dir, w.source, r.raw)
		}
		if r.Error != w.err {
			t.Errorf("%s: error %q, want %q: %s", w.what, r.Error, w.err, r.raw)
		}
	}
	for _, r := range rows {
		if !matched[r] {
			t.Errorf("a row for no connection of the workload: %s", r.raw)
		}
	}
}

// fEndUnseen says whether a row's error is the one of a connection whose end
// no program saw, where that is known to happen: a connect ended by ICMP on
// its retransmitted SYN (README, "A connection's end that no program
// sees"). Such a row must still name its exact owner.
func fEndUnseen(w fWant, got string) bool {
	return got == conn.FailUnseen && w.err == conn.FailUnreachable
}

// fCheckTrace wants every line of every wanted socket to carry the real
// ports, and the socket's last line (-> CLOSE) its error.
func fCheckTrace(t *testing.T, want []fWant, rows []*trTraceRow) {
	for _, w := range want {
		got := fFind(w, rows, traceKey)
		if w.cookie == 0 {
			// The never-accepted socket: find its lines by cookie once
			// one line gave it.
			if len(got) == 0 {
				t.Errorf("%s: no trace lines", w.what)
				continue
			}
			w.cookie = got[0].Cookie
			got = fFind(w, rows, traceKey)
		}
		if len(got) == 0 {
			t.Errorf("%s: no trace lines", w.what)
			continue
		}
		last := got[len(got)-1]
		var lastErr string
		var m map[string]any
		if json.Unmarshal([]byte(last.raw), &m) == nil {
			lastErr, _ = m["error"].(string)
		}
		unseen := fEndUnseen(w, lastErr)
		if unseen {
			t.Logf("%s: end unseen: %s", w.what, last.raw)
		}
		for _, r := range got {
			if r.LPort != w.lport || r.RPort != w.rport || r.LAddr != w.laddr || r.RAddr != w.raddr {
				t.Errorf("%s: line with tuple %s:%d -> %s:%d, want %s:%d -> %s:%d: %s", w.what, r.LAddr, r.LPort, r.RAddr, r.RPort,
					w.laddr, w.lport, w.raddr, w.rport, r.raw)
			}
			if r.PID != w.pid {
				t.Errorf("%s: line with pid %d, want %d: %s", w.what, r.PID, w.pid, r.raw)
			}
		}
		if last.NewState != "CLOSE" {
			t.Errorf("%s: last line is not -> CLOSE: %s", w.what, last.raw)
			continue
		}
		if unseen {
			continue
		}
		if lastErr != w.err {
			t.Errorf("%s: last line's error %q, want %q: %s", w.what, lastErr, w.err, last.raw)
		}
	}
}

// fRoute links namespace cli to namespace peer with a veth pair and makes
// peer a router that drops 203.0.113.0/24 and answers 198.51.100.0/24
// with ICMP host unreachable.
func fRoute(t *testing.T, cli, peer string) {
	t.Helper()
	for _, args := range [][]string{
		{"-n", cli, "link", "add", "fc0", "type", "veth", "peer", "name", "fp0", "netns", peer},
		{"-n", cli, "addr", "add", "192.0.2.1/24", "dev", "fc0"},
		{"-n", peer, "addr", "add", "192.0.2.2/24", "dev", "fp0"},
		{"-n", cli, "link", "set", "fc0", "up"},
		{"-n", peer, "link", "set", "fp0", "up"},
		{"-n", cli, "route", "add", "198.51.100.0/24", "via", "192.0.2.2"},
		{"-n", cli, "route", "add", "203.0.113.0/24", "via", "192.0.2.2"},
		{"-n", peer, "route", "add", "unreachable", "198.51.100.0/24"},
		{"-n", peer, "route", "add", "blackhole", "203.0.113.0/24"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0"} {
		if out, err := exec.Command("ip", "netns", "exec", peer, "sysctl", "-qw", kv).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s: %v: %s", kv, err, out)
		}
	}
}

var fSynLine = regexp.MustCompile(`IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[S\]`)

// fStartTcpdump starts tcpdump and returns a function that stops it and
// gives, per destination "addr.port", the distinct source ports of the
// SYNs sent there.
func fStartTcpdump(t *testing.T, args ...string) func() map[string][]int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "listening on") {
				close(ready)
				once = true
			}
		}
		if !once {
			close(ready)
		}
	}()
	lines := make(chan []string, 1)
	go func() {
		var all []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			all = append(all, sc.Text())
		}
		lines <- all
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start")
	}
	return func() map[string][]int {
		time.Sleep(200 * time.Millisecond)
		cancel()
		all := <-lines
		cmd.Wait()
		out := map[string][]int{}
		for _, l := range all {
			m := fSynLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			p, _ := strconv.Atoi(m[2])
			dst := m[3] + "." + m[4]
			seen := false
			for _, q := range out[dst] {
				seen = seen || q == p
			}
			if !seen {
				out[dst] = append(out[dst], p)
			}
		}
		return out
	}
}

// fWaitResetInQueue waits until the listener on port holds a connection
// in its accept queue (Recv-Q) and none on the port is ESTABLISHED: the
// client's reset has reached the queued server socket, so an accept now
// comes after its end.
func fWaitResetInQueue(t *testing.T, ns string, port int) {
	t.Helper()
	p := strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", "sport", "= :"+p).Output()
		e, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Htn", "state", "established", "sport", "= :"+p).Output()
		f := strings.Fields(string(l))
		if len(f) > 1 && f[1] == "1" && len(strings.TrimSpace(string(e))) == 0 {
			return
		}
	}
	t.Fatalf("the reset connection to port %d did not wait in the accept queue", port)
}

// fWaitEstablished waits until a connection to port is established.
func fWaitEstablished(t *testing.T, ns string, port int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Htn", "state", "established", "dport", "= :"+strconv.Itoa(port)).Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			return
		}
	}
	t.Fatalf("no connection to port %d established", port)
}
