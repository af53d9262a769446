package e2e

// The agent without --netns watches every network namespace of the host,
// its snapshot gauges included. Three namespaces, as containers have them,
// hold TIME_WAIT sockets of real client processes (the internal/tw
// workload under four program names): two of them run the same server,
// 127.0.0.1:8080, with the same narrow ephemeral range and
// tcp_tw_reuse off, so that every port of the range is used in both and
// the two hold the very same 4-tuples with different owners; the third
// has a range of its own above the kernel's default, towards 9090. The
// gauges must equal what `ss` finds in each namespace: TIME_WAIT by owner
// summed over the namespaces, ephemeral ports per destination the largest
// namespace's (not the sum), the third namespace's ports counted with its
// own range; and a namespace that is deleted must be let go.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// anWorkload is one namespace's share: its range, a server and clients.
type anWorkload struct {
	ns      *trNetns
	lo, hi  int
	server  string         // 127.0.0.1:PORT
	clients map[string]int // program name -> connections
	ports   map[int]string // client local port -> program name
}

func anSh(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// anStart starts the tw workload in a namespace under a program name and
// returns its stdout and a function that ends it (stdin EOF) and waits.
func anStart(t *testing.T, ns, bin string, args ...string) (*bufio.Reader, func()) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { in.Close(); cmd.Wait() }
	t.Cleanup(stop)
	br := bufio.NewReader(out)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("%s %v: %q %v", bin, args, line, err)
	}
	return br, stop
}

// anSS is `ss -Htan` in a namespace: state, local and remote of each
// socket.
// anClients runs n connections of the client program bin (named name) in
// w's namespace to w's server, each closed first by the client (so its
// socket waits in TIME_WAIT), and records each client port's program in
// w.ports.
func anClients(t *testing.T, w *anWorkload, bin, name string, n int) {
	t.Helper()
	out, stop := anStart(t, w.ns.name, bin, "client", "-addr", w.server,
		"-n", strconv.Itoa(n), "-interval", "2ms", "-hold", "0")
	defer stop()
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("%s in %s: %v", name, w.ns.name, err)
		}
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "done" {
			return
		}
		if len(f) < 2 || f[0] != "conn" {
			t.Fatalf("%s in %s: %q", name, w.ns.name, line)
		}
		p, _ := strconv.Atoi(f[1])
		w.ports[p] = name
	}
}

func anSS(t *testing.T, ns string) [][3]string {
	var out [][3]string
	for line := range strings.Lines(anSh(t, ns, "ss", "-Htan")) {
		f := strings.Fields(line)
		if len(f) >= 5 {
			out = append(out, [3]string{f[0], f[3], f[4]})
		}
	}
	return out
}

func anPort(t *testing.T, hostport string) int {
	i := strings.LastIndexByte(hostport, ':')
	p, err := strconv.Atoi(hostport[i+1:])
	if err != nil {
		t.Fatalf("port of %q: %v", hostport, err)
	}
	return p
}

// anAgentRanges counts the agent's open ip_local_port_range files: one
// per namespace it holds.
func anAgentRanges(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == "/proc/sys/net/ipv4/ip_local_port_range" {
			n++
		}
	}
	return n
}

// anScrape reads the three snapshot gauges.
func anScrape(listen string) (timewait map[string]float64, ports map[string]float64, rangeSize float64, err error) {
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, 0, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, nil, 0, err
	}
	timewait, ports = map[string]float64{}, map[string]float64{}
	label := func(lp map[string]string, names ...string) string {
		var v []string
		for _, n := range names {
			v = append(v, lp[n])
		}
		return strings.Join(v, "/")
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lp := map[string]string{}
			for _, l := range m.GetLabel() {
				lp[l.GetName()] = l.GetValue()
			}
			switch name {
			case "bpfnetstat_timewait_sockets":
				timewait[lp["comm"]] = m.GetGauge().GetValue()
			case "bpfnetstat_ephemeral_ports_in_use":
				ports[label(lp, "laddr", "raddr", "rport")] = m.GetGauge().GetValue()
			case "bpfnetstat_ephemeral_port_range_size":
				rangeSize = m.GetGauge().GetValue()
			}
		}
	}
	return timewait, ports, rangeSize, nil
}

func TestAgentAllNamespacesSnapshot(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	dir := t.TempDir()
	bins := map[string]string{}
	for _, name := range []string{"nsacli", "nsbcli", "nsshared", "nsccli", "nstwsrv"} {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(tw)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		bins[name] = p
	}
	work := []*anWorkload{
		{ns: trNewNetns(t), lo: 40001, hi: 40010, server: "127.0.0.1:8080", clients: map[string]int{"nsacli": 6, "nsshared": 4}},
		{ns: trNewNetns(t), lo: 40001, hi: 40012, server: "127.0.0.1:8080", clients: map[string]int{"nsbcli": 5, "nsshared": 7}},
		{ns: trNewNetns(t), lo: 61000, hi: 61009, server: "127.0.0.1:9090", clients: map[string]int{"nsccli": 7}},
	}
	for _, w := range work {
		anSh(t, w.ns.name, "sysctl", "-q", "-w", fmt.Sprintf("net.ipv4.ip_local_port_range=%d %d", w.lo, w.hi), "net.ipv4.tcp_tw_reuse=0")
	}

	a := agStart(t, ours, nil, dir, "--top-n", "1000")
	for start := time.Now(); anAgentRanges(a.cmd.Process.Pid) < 4; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the agent holds %d namespaces' port ranges, want the host's and the 3 of the test at least\n%s", anAgentRanges(a.cmd.Process.Pid), a.stderr)
		}
	}

	// The first namespace's connections first: the second's, with the
	// same tuples, come later and would take their place in a table
	// looked up by 4-tuple alone.
	for _, w := range work {
		w.ports = map[int]string{}
		_, stopSrv := anStart(t, w.ns.name, bins["nstwsrv"], "server", "-addr", w.server)
		names := make([]string, 0, len(w.clients))
		for name := range w.clients {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			anClients(t, w, bins[name], name, w.clients[name])
		}
		stopSrv()
	}

	// Ground truth from ss in each namespace.
	wantTW := map[string]float64{}
	wantPorts := map[string]float64{}
	tuples := map[string][]string{} // TIME_WAIT tuple -> namespaces
	for _, w := range work {
		listening := map[int]bool{}
		socks := anSS(t, w.ns.name)
		for _, s := range socks {
			if s[0] == "LISTEN" {
				listening[anPort(t, s[1])] = true
			}
		}
		inNS := map[string]float64{}
		var tw int
		for _, s := range socks {
			lp := anPort(t, s[1])
			if s[0] == "LISTEN" || lp < w.lo || lp > w.hi || listening[lp] {
				continue
			}
			r := strings.LastIndexByte(s[2], ':')
			l := strings.LastIndexByte(s[1], ':')
			inNS[s[1][:l]+"/"+s[2][:r]+"/"+s[2][r+1:]]++
			if s[0] == "TIME-WAIT" {
				tw++
				name := w.ports[lp]
				if name == "" {
					t.Fatalf("%s: TIME_WAIT %s -> %s is no client's", w.ns.name, s[1], s[2])
				}
				wantTW[name]++
				tuples[s[1]+" "+s[2]] = append(tuples[s[1]+" "+s[2]], w.ns.name)
			}
		}
		n := 0
		for _, c := range w.clients {
			n += c
		}
		if tw != n || len(w.ports) != n {
			t.Fatalf("%s: ss shows %d TIME_WAIT sockets, %d client ports, want %d of each", w.ns.name, tw, len(w.ports), n)
		}
		for k, v := range inNS {
			wantPorts[k] = max(wantPorts[k], v)
		}
	}
	shared := 0
	for _, nss := range tuples {
		if len(nss) == 2 {
			shared++
		}
	}
	if shared != 10 {
		t.Fatalf("%d TIME_WAIT tuples stand in two namespaces, want 10 (the whole range of the first)", shared)
	}
	// What the gauges must say: the sum of the owners over namespaces,
	// the largest namespace's ports (12, not 10+12), and namespace 3's
	// ports with its own range (61000-61006, above the default range).
	if wantTW["nsshared"] != 11 || wantPorts["127.0.0.1/127.0.0.1/8080"] != 12 || wantPorts["127.0.0.1/127.0.0.1/9090"] != 7 {
		t.Fatalf("ground truth %v %v is not the workload's", wantTW, wantPorts)
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	wantRange := float64(hi - lo + 1)

	var gotTW, gotPorts map[string]float64
	var gotRange float64
	check := func() string {
		var diffs []string
		for name, n := range wantTW {
			if gotTW[name] != n {
				diffs = append(diffs, fmt.Sprintf("timewait{comm=%q} = %v, want %v", name, gotTW[name], n))
			}
		}
		for _, k := range []string{"127.0.0.1/127.0.0.1/8080", "127.0.0.1/127.0.0.1/9090"} {
			if gotPorts[k] != wantPorts[k] {
				diffs = append(diffs, fmt.Sprintf("ephemeral_ports_in_use{%s} = %v, want %v", k, gotPorts[k], wantPorts[k]))
			}
		}
		if gotRange != wantRange {
			diffs = append(diffs, fmt.Sprintf("ephemeral_port_range_size = %v, want %v (the agent's own namespace's)", gotRange, wantRange))
		}
		return strings.Join(diffs, "\n")
	}
	anAwait(t, a, func() (err error) {
		gotTW, gotPorts, gotRange, err = anScrape(a.listen)
		return err
	}, check)
	// Every namespace joined (the agent has CAP_SYS_ADMIN), the test's
	// three walked: they hold sockets.
	cost, err := ncScrape(a.listen)
	if err != nil {
		t.Fatal(err)
	}
	if ns := cost["bpfnetstat_snapshot_namespaces"]; ns["failed"] != 0 || ns["walked"] < 3 {
		t.Errorf("snapshot_namespaces %v, want none failed and the test's 3 walked at least", ns)
	}
	t.Logf("timewait by owner %v, ports %v (8080: largest of 10 and 12; 9090: own range), range %v", wantTW, map[string]float64{"8080": gotPorts["127.0.0.1/127.0.0.1/8080"], "9090": gotPorts["127.0.0.1/127.0.0.1/9090"]}, gotRange)

	// A namespace deleted is let go: its socket and range file closed
	// (they would keep it alive), its sockets gone from the gauges.
	before := anAgentRanges(a.cmd.Process.Pid)
	if err := work[2].ns.remove(); err != nil {
		t.Fatal(err)
	}
	var ports map[string]float64
	var held int
	anAwait(t, a, func() (err error) {
		_, ports, _, err = anScrape(a.listen)
		held = anAgentRanges(a.cmd.Process.Pid)
		return err
	}, func() string {
		if _, ok := ports["127.0.0.1/127.0.0.1/9090"]; ok || held >= before {
			return fmt.Sprintf("after deleting %s: ports %v, namespaces held %d (before %d)", work[2].ns.name, ports["127.0.0.1/127.0.0.1/9090"], held, before)
		}
		return ""
	})
	a.stop(t)
	if strings.Contains(a.stderr.String(), "snapshot:") {
		t.Errorf("the agent reported snapshot errors:\n%s", a.stderr)
	}
}
