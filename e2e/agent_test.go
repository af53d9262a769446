package e2e

// The agent with the real thing: a real Prometheus (Debian's package)
// scrapes two agents, each watching its own network namespace (two
// "hosts"), during a workload of known owners and counts, and PromQL's
// answers must equal the workload's ground truth; the audit logs of the
// same run hold every connection exactly once with its owner and bytes.
// TestAgentAuditOperations checks rotation under load, SIGHUP reopening,
// SIGTERM flushing and the loss record of a forced ring-buffer overflow.
//
// Both agents run in the root namespace with --netns (the tracer filters
// on the namespace, the snapshots read it through a thread that joined
// it) and listen on distinct 127.0.0.1 ports, where Prometheus, also in
// the root namespace and on loopback only, reaches them without any
// routing between namespaces.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/output"
)

// agRequireProm finds Debian's prometheus binary or skips (fails under
// BPFNETSTAT_REQUIRE_ROOT=1).
func agRequireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("needs %s (scripts/install-test-deps.sh installs Debian's prometheus)", tool)
			if os.Getenv(envRequireRoot) == "1" {
				t.Fatalf("%s, and %s=1 forbids skipping", msg, envRequireRoot)
			}
			t.Skip(msg)
		}
	}
}

func agFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type agAgent struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	log    string
	listen string
	done   chan error
}

// agStart starts an agent for a namespace (nil: all) and waits for its
// start line.
func agStart(t *testing.T, ours string, ns *trNetns, dir string, extra ...string) *agAgent {
	t.Helper()
	a := &agAgent{stderr: &bytes.Buffer{}, log: filepath.Join(dir, "audit.jsonl"), done: make(chan error, 1)}
	a.listen = fmt.Sprintf("127.0.0.1:%d", agFreePort(t))
	args := append([]string{"agent", "--listen", a.listen,
		"--socket", filepath.Join(dir, "run", "agent.sock"), "--audit-log", a.log, "--snapshot-interval", "300ms"}, extra...)
	if ns != nil { // nil: every namespace, the default
		args = append(args, "--netns", "/run/netns/"+ns.name)
	}
	a.cmd = exec.Command(ours, args...)
	pr, pw := io.Pipe()
	a.cmd.Stderr = pw
	waited, err := startTied(a.cmd)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			a.stderr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "agent tracing") {
				started <- true
			}
		}
	}()
	go func() { a.done <- <-waited; pw.Close() }()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			<-a.done
		}
	})
	select {
	case <-started:
	case err := <-a.done:
		t.Fatalf("agent exited before attaching: %v\n%s", err, a.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not start in 30s\n%s", a.stderr)
	}
	return a
}

// stop sends SIGTERM and waits for a clean exit.
func (a *agAgent) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("agent after SIGTERM: %v\n%s", err, a.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not stop 20s after SIGTERM\n%s", a.stderr)
	}
}

// agFailsRecord is what e2e/internal/fails prints.
type agFailsRecord struct {
	Case   string `json:"case"`
	PID    int    `json:"pid"`
	Cookie uint64 `json:"cookie"`
	LPort  int    `json:"lport"`
	RPort  int    `json:"rport"`
	Err    string `json:"err"`
}

// agHost is one namespace's workload: the fails binary under three names
// (cli, srv, ref), n client/server pairs that exchange 4 bytes each way,
// the client closing first (so its side goes to TIME_WAIT), and r
// connects refused.
type agHost struct {
	ns            *trNetns
	cli, srv, ref string // program names (comm)
	n, r          int
	records       []agFailsRecord // with comm in Case's place
	comms         map[uint64]string
}

func (h *agHost) run(t *testing.T, bin string, dir string) {
	t.Helper()
	h.comms = map[uint64]string{}
	paths := map[string]string{}
	for _, name := range []string{h.cli, h.srv, h.ref} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	run := func(name string, args ...string) *exec.Cmd {
		return exec.Command("ip", append([]string{"netns", "exec", h.ns.name, paths[name]}, args...)...)
	}
	parse := func(comm string, out []byte) {
		for line := range strings.Lines(string(out)) {
			if strings.TrimSpace(line) == "ready" || strings.TrimSpace(line) == "" {
				continue
			}
			var r agFailsRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v: %q", comm, err, line)
			}
			h.records = append(h.records, r)
			h.comms[r.Cookie] = comm
		}
	}
	for range h.n {
		srv := run(h.srv, "normal-server", "127.0.0.1:7000")
		stdout, _ := srv.StdoutPipe()
		srv.Stderr = os.Stderr
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		if line, err := br.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
			t.Fatalf("server: %q %v", line, err)
		}
		out, err := run(h.cli, "normal-client", "127.0.0.1:7000").Output()
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		parse(h.cli, out)
		rest, _ := io.ReadAll(br)
		if err := srv.Wait(); err != nil {
			t.Fatalf("server: %v", err)
		}
		parse(h.srv, rest)
	}
	for range h.r {
		out, err := run(h.ref, "connect", "127.0.0.1:7001").Output()
		if err != nil {
			t.Fatalf("refused client: %v", err)
		}
		parse(h.ref, out)
	}
}

// truth is the ground truth of PromQL queries, by "host/labels".
func (h *agHost) truth(host string) map[string]map[string]float64 {
	n, r := float64(h.n), float64(h.r)
	return map[string]map[string]float64{
		`sum by (host, direction, comm) (bpfnetstat_connections_opened_total)`: {
			host + "/active/" + h.cli: n, host + "/passive/" + h.srv: n, host + "/active/" + h.ref: r},
		`sum by (host, direction, comm) (bpfnetstat_connections_closed_total)`: {
			host + "/active/" + h.cli: n, host + "/passive/" + h.srv: n, host + "/active/" + h.ref: r},
		`sum by (host, comm, reason) (bpfnetstat_connect_failures_total)`: {host + "/" + h.ref + "/refused": r},
		`sum by (host, comm) (bpfnetstat_timewait_sockets)`:               {host + "/" + h.cli: n},
		`sum by (host, direction, comm) (bpfnetstat_bytes_sent_total)`: {
			host + "/active/" + h.cli: 4 * n, host + "/passive/" + h.srv: 4 * n, host + "/active/" + h.ref: 0},
		`sum by (host, direction, comm) (bpfnetstat_bytes_received_total)`: {
			host + "/active/" + h.cli: 4 * n, host + "/passive/" + h.srv: 4 * n, host + "/active/" + h.ref: 0},
		`sum by (host, direction, comm) (bpfnetstat_connection_duration_seconds_count)`: {
			host + "/active/" + h.cli: n, host + "/passive/" + h.srv: n, host + "/active/" + h.ref: r},
		`sum by (host) (bpfnetstat_events_lost_total)`: {host: 0},
		// The clients' TIME_WAIT sockets hold their ephemeral ports; the
		// servers' sockets (the listener's port) and the refused
		// connects hold none.
		`sum by (host, laddr, raddr, rport) (bpfnetstat_ephemeral_ports_in_use)`: {host + "/127.0.0.1/127.0.0.1/7000": n},
		`sum by (host) (bpfnetstat_ephemeral_port_range_size)`:                   {host: 60999 - 32768 + 1},
	}
}

type promResult struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
	Error string `json:"error"`
}

// promQuery runs an instant query and keys each sample by its label
// values in the order of the query's "by (...)".
func promQuery(base, q string) (map[string]float64, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, r.Error)
	}
	by := strings.Split(strings.TrimSpace(q[strings.Index(q, "(")+1:strings.Index(q, ")")]), ",")
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var key []string
		for _, l := range by {
			key = append(key, s.Metric[strings.TrimSpace(l)])
		}
		v, err := strconv.ParseFloat(s.Value[1].(string), 64)
		if err != nil {
			return nil, err
		}
		out[strings.Join(key, "/")] = v
	}
	return out, nil
}

func TestAgentPrometheusTwoHosts(t *testing.T) {
	requireRoot(t)
	agRequireTools(t, "prometheus")
	b := getBinaries(t)
	dir := t.TempDir()
	fails := filepath.Join(dir, "fails")
	if out, err := exec.Command("go", "build", "-o", fails, "./internal/fails").CombinedOutput(); err != nil {
		t.Fatalf("building fails: %v\n%s", err, out)
	}
	hosts := map[string]*agHost{
		"a": {ns: trNewNetns(t), cli: "acli", srv: "asrv", ref: "aref", n: 12, r: 5},
		"b": {ns: trNewNetns(t), cli: "bcli", srv: "bsrv", ref: "bref", n: 7, r: 9},
	}
	agents := map[string]*agAgent{}
	for name, h := range hosts {
		d := filepath.Join(dir, "agent-"+name)
		os.MkdirAll(d, 0o700)
		agents[name] = agStart(t, b.ours, h.ns, d)
	}

	// Prometheus: own config, storage in a temp dir, loopback only.
	promPort := agFreePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bpfnetstat
    static_configs:
      - targets: [%q]
        labels: {host: a}
      - targets: [%q]
        labels: {host: b}
`, agents["a"].listen, agents["b"].listen)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	var promOut bytes.Buffer
	prom := exec.Command("prometheus", "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort), "--log.level=warn")
	prom.Stdout, prom.Stderr = &promOut, &promOut
	promDone, err := startTied(prom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); <-promDone })
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)

	// Both targets up before the workload, so that counters start at 0
	// in Prometheus' eyes too.
	deadline := time.Now().Add(60 * time.Second)
	for {
		up, err := promQuery(base, `sum by (host) (up)`)
		if err == nil && up["a"] == 1 && up["b"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not up in 60s: %v %v\n%s", up, err, promOut.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	for name, h := range hosts {
		h.run(t, fails, filepath.Join(dir, "agent-"+name))
	}

	// PromQL against the ground truth, exactly; scrapes and snapshots
	// catch up within a few seconds.
	want := map[string]map[string]float64{}
	for name, h := range hosts {
		for q, m := range h.truth(name) {
			if want[q] == nil {
				want[q] = map[string]float64{}
			}
			for k, v := range m {
				want[q][k] = v
			}
		}
	}
	queries := make([]string, 0, len(want))
	for q := range want {
		queries = append(queries, q)
	}
	sort.Strings(queries)
	deadline = time.Now().Add(30 * time.Second)
	for {
		var bad []string
		for _, q := range queries {
			got, err := promQuery(base, q)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want[q]) {
				bad = append(bad, fmt.Sprintf("%s\n   got  %v\n   want %v", q, got, want[q]))
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus disagrees with the workload after 30s:\n%s\nagent a:\n%s\nagent b:\n%s", strings.Join(bad, "\n"), agents["a"].stderr, agents["b"].stderr)
		}
		time.Sleep(time.Second)
	}
	t.Logf("PromQL matches the ground truth of both hosts: %d queries", len(queries))

	// The audit logs: every connection exactly once, exact owner and bytes.
	for name, h := range hosts {
		agents[name].stop(t)
		lines := readAuditLines(t, agents[name].log)
		byCookie := map[uint64][]output.LifeJSON{}
		for _, l := range lines {
			byCookie[l.Cookie] = append(byCookie[l.Cookie], l)
		}
		if len(lines) != 2*h.n+h.r {
			t.Errorf("host %s: %d audit records, want %d", name, len(lines), 2*h.n+h.r)
		}
		for _, r := range h.records {
			got := byCookie[r.Cookie]
			if len(got) != 1 {
				t.Errorf("host %s: %s pid %d cookie %d: %d audit records, want 1", name, r.Case, r.PID, r.Cookie, len(got))
				continue
			}
			g := got[0]
			wantBytes := uint64(4)
			wantErr := ""
			if r.Case == "connect" {
				wantBytes, wantErr = 0, "refused"
			}
			if g.PID != uint32(r.PID) || g.Comm != h.comms[r.Cookie] || g.TxBytes != wantBytes || g.RxBytes != wantBytes || g.Error != wantErr || int(g.LPort) != r.LPort && r.LPort != 0 {
				t.Errorf("host %s: %+v\n  for %+v (comm %s, %d bytes each way, error %q)", name, g, r, h.comms[r.Cookie], wantBytes, wantErr)
			}
		}
	}
}

func readAuditLines(t *testing.T, paths ...string) []output.LifeJSON {
	t.Helper()
	var out []output.LifeJSON
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if strings.Contains(line, `"kind":"loss"`) {
				continue
			}
			var l output.LifeJSON
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("%s: %v: %q", p, err, line)
			}
			out = append(out, l)
		}
	}
	return out
}

// agConnect makes n loopback connections in namespace ns from this test
// process, each sending and receiving 100 bytes, the client closing
// first, and returns the client sockets' cookies.
func agConnect(t *testing.T, ns *trNetns, port, n int) []uint64 {
	t.Helper()
	var cookies []uint64
	err := isInNetns(ns.name, func() error {
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer l.Close()
		buf := make([]byte, 100)
		for range n {
			c, err := net.Dial("tcp4", l.Addr().String())
			if err != nil {
				return err
			}
			s, err := l.Accept()
			if err != nil {
				return err
			}
			raw, _ := c.(*net.TCPConn).SyscallConn()
			raw.Control(func(fd uintptr) {
				ck, _ := unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
				cookies = append(cookies, ck)
			})
			c.Write(buf)
			io.ReadFull(s, buf)
			s.Write(buf)
			io.ReadFull(c, buf)
			c.Close()
			s.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cookies
}

func TestAgentAuditOperations(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	ns := trNewNetns(t)
	dir := t.TempDir()
	a := agStart(t, b.ours, ns, dir, "--audit-max-size", "1", "--audit-max-backups", "1000")

	// Rotation under load: some 8 MiB of records at 1 MiB per file.
	cookies := agConnect(t, ns, 7100, 6000)
	// logrotate's way: rename, then SIGHUP; the agent writes a new file.
	renamed := a.log + ".logrotate"
	if err := os.Rename(a.log, renamed); err != nil {
		t.Fatal(err)
	}
	a.cmd.Process.Signal(syscall.SIGHUP)
	// The agent reopens at once; the wait is long only so that a machine
	// busy with other tests does not fail it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(a.log); err == nil {
			break
		}
		if time.Now().After(deadline) {
			var names []string
			if ents, err := os.ReadDir(dir); err == nil {
				for _, e := range ents {
					names = append(names, e.Name())
				}
			}
			t.Fatalf("no new audit log 20s after SIGHUP (directory: %v)\n%s", names, a.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cookies = append(cookies, agConnect(t, ns, 7101, 6000)...)
	// SIGTERM right after the last connection: what is buffered (at most
	// a second's worth) and what is still in the ring buffer must reach
	// the file.
	a.stop(t)

	rotated, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if len(rotated) < 3 {
		t.Errorf("%d rotated files, want at least 3 (1 MiB each)", len(rotated))
	}
	for _, f := range append(rotated, a.log, renamed) {
		if st, err := os.Stat(f); err != nil || st.Size() > 1<<20 || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v (want at most 1 MiB, mode 0600)", f, st.Size(), st.Mode())
		}
	}
	lines := readAuditLines(t, append(rotated, a.log, renamed)...)
	byCookie := map[uint64]int{}
	for _, l := range lines {
		if l.Direction == "active" {
			byCookie[l.Cookie]++
			if l.TxBytes != 100 || l.RxBytes != 100 || l.PID != uint32(os.Getpid()) {
				t.Errorf("record %+v: want pid %d, 100 bytes each way", l, os.Getpid())
			}
		}
	}
	if len(lines) != 2*len(cookies) {
		t.Errorf("%d records, want %d (both ends of %d connections)", len(lines), 2*len(cookies), len(cookies))
	}
	missing, dup := 0, 0
	for _, c := range cookies {
		switch byCookie[c] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing != 0 || dup != 0 {
		t.Errorf("of %d client connections, %d missing and %d written more than once", len(cookies), missing, dup)
	}
	t.Logf("%d records in %d rotated files, the renamed one and the new one", len(lines), len(rotated))
}

// A reader that cannot keep up (stopped with SIGSTOP) with a one-page
// ring buffer loses events; the audit log says so in a loss record and
// stderr in a line.
func TestAgentLossRecord(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	ns := trNewNetns(t)
	dir := t.TempDir()
	a := agStart(t, b.ours, ns, dir, "--ring-bytes", "4096")
	a.cmd.Process.Signal(syscall.SIGSTOP)
	agConnect(t, ns, 7200, 300)
	a.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(2500 * time.Millisecond)
	a.stop(t)
	b2, err := os.ReadFile(a.log)
	if err != nil {
		t.Fatal(err)
	}
	var loss []map[string]any
	for line := range strings.Lines(string(b2)) {
		if strings.Contains(line, `"kind":"loss"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			loss = append(loss, m)
		}
	}
	if len(loss) == 0 {
		t.Fatalf("no loss record after a ring-buffer overflow\nstderr:\n%s", a.stderr)
	}
	lost, _ := loss[0]["lost"].(map[string]any)
	if n, _ := lost["ring_full"].(float64); n <= 0 || loss[0]["from"] == nil || loss[0]["to"] == nil {
		t.Errorf("loss record %v: want ring_full > 0 and a time range", loss[0])
	}
	if !strings.Contains(a.stderr.String(), "events lost in the last") {
		t.Errorf("no loss line on stderr:\n%s", a.stderr)
	}
	t.Logf("loss record: %v", loss[0])
}

// An audit log that cannot be written is never silent: each failed flush
// is on stderr, counted in the metrics, and the agent exits non-zero.
func TestAgentAuditWriteError(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	ns := trNewNetns(t)
	a := agStart(t, b.ours, ns, t.TempDir(), "--audit-log", "/dev/full")
	agConnect(t, ns, 7300, 20)
	deadline := time.Now().Add(10 * time.Second)
	var errs float64
	for time.Now().Before(deadline) && errs == 0 {
		time.Sleep(300 * time.Millisecond)
		resp, err := http.Get("http://" + a.listen + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "bpfnetstat_audit_write_errors_total "); ok {
				errs, _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	if errs == 0 {
		t.Errorf("bpfnetstat_audit_write_errors_total stayed 0 writing to /dev/full")
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-a.done:
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop after SIGTERM")
	}
	if err == nil {
		t.Errorf("agent exited 0 after failed audit writes\n%s", a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "writing the audit log") || !strings.Contains(a.stderr.String(), "no space left on device") {
		t.Errorf("stderr does not report the write errors:\n%s", a.stderr)
	}
}
