package e2e

// The agent without CAP_SYS_ADMIN (the capabilities the tracer needs and
// no more) cannot join the network namespaces of the host's containers.
// Two namespaces, each with a server process inside, hold TIME_WAIT
// sockets of real client processes; one has a port range of its own,
// above the agent's. The agent must say once per namespace that it
// could not join it and reads its TIME_WAIT sockets through /proc/PID/net
// of a process inside, count their TIME_WAIT sockets by owner exactly as
// `ss` in each namespace finds them, count none of their ports as
// ephemeral (their range cannot be read from outside), and report them
// as bpfnetstat_snapshot_namespaces{result="failed"}.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// ncCaps are the agent's capabilities here: the systemd unit's without
// CAP_SYS_ADMIN (CAP_SYS_RESOURCE only if this process has it to give).
func ncCaps(t *testing.T) string {
	caps := "+bpf,+perfmon,+net_admin,+dac_read_search,+sys_ptrace"
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapPrm:"); ok {
			prm, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapPrm %q: %v", v, err)
			}
			if prm&(1<<unix.CAP_SYS_RESOURCE) != 0 {
				caps += ",+sys_resource"
			}
		}
	}
	return caps
}

// ncHostNamespaces is every distinct network namespace of the host, as
// the agent finds them: /proc/*/ns/net and /run/netns/*.
func ncHostNamespaces(t *testing.T) map[uint64]bool {
	paths, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	more, _ := filepath.Glob("/run/netns/*")
	out := map[uint64]bool{}
	for _, p := range append(paths, more...) {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			out[st.Ino] = true
		}
	}
	return out
}

// ncScrape reads the gauges by name and label values.
func ncScrape(listen string) (map[string]map[string]float64, error) {
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]float64{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "bpfnetstat_") {
			continue
		}
		out[name] = map[string]float64{}
		for _, m := range mf.GetMetric() {
			var v []string
			for _, l := range m.GetLabel() {
				v = append(v, l.GetValue())
			}
			out[name][strings.Join(v, "/")] = m.GetGauge().GetValue()
		}
	}
	return out, nil
}

// anBackoff moves a deadline for the snapshot gauges, first set 15 s
// after start, by the agent's back-off: it waits 20 times its last
// snapshot's duration when that is longer than its interval (a loaded
// host stretches it). The deadline only moves by the longest back-off
// seen, so that it still comes.
func anBackoff(t *testing.T, listen string, start, deadline time.Time) time.Time {
	t.Helper()
	got, err := ncScrape(listen)
	if err != nil {
		t.Fatal(err)
	}
	d := got["bpfnetstat_snapshot_duration_seconds"][""]
	if d > 5 {
		t.Fatalf("a snapshot took %v s", d)
	}
	if b := start.Add(15*time.Second + time.Duration(20*d*float64(time.Second))); b.After(deadline) {
		return b
	}
	return deadline
}

// anAwait scrapes the agent and checks the gauges (check gives "" when
// they are right, else what differs) until they are right, at most 15 s
// plus the snapshots' back-off.
func anAwait(t *testing.T, a *agAgent, scrape func() error, check func() string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		if err := scrape(); err != nil {
			t.Fatal(err)
		}
		d := check()
		if d == "" {
			return
		}
		deadline = anBackoff(t, a.listen, start, deadline)
		if time.Now().After(deadline) {
			t.Fatalf("gauges after 15 s (and the snapshots' back-off):\n%s\nagent:\n%s", d, a.stderr)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestAgentWithoutSysAdmin(t *testing.T) {
	requireRoot(t)
	ours, tw := mgBuild(t)
	dir := t.TempDir()
	data, err := os.ReadFile(tw)
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{}
	for _, name := range []string{"ncacli", "ncbcli", "ncshared", "nctwsrv"} {
		bins[name] = filepath.Join(dir, name)
		if err := os.WriteFile(bins[name], data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The agent through setpriv: no CAP_SYS_ADMIN in any set.
	caps := ncCaps(t)
	wrapper := filepath.Join(dir, "agent-nocap")
	script := fmt.Sprintf("#!/bin/sh\nexec setpriv --inh-caps=-all,%[1]s --ambient-caps=-all,%[1]s --bounding-set=-all,%[1]s %[2]s \"$@\"\n", caps, ours)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	work := []*anWorkload{
		{ns: trNewNetns(t), lo: 32768, hi: 60999, server: "127.0.0.1:8080", clients: map[string]int{"ncacli": 6, "ncshared": 4}},
		{ns: trNewNetns(t), lo: 61000, hi: 61010, server: "127.0.0.1:9090", clients: map[string]int{"ncbcli": 5, "ncshared": 3}},
	}
	inos := map[string]uint64{}
	for _, w := range work {
		anSh(t, w.ns.name, "sysctl", "-q", "-w", fmt.Sprintf("net.ipv4.ip_local_port_range=%d %d", w.lo, w.hi))
		var st unix.Stat_t
		if err := unix.Stat("/run/netns/"+w.ns.name, &st); err != nil {
			t.Fatal(err)
		}
		inos[w.ns.name] = st.Ino
		// The server stays: the process inside through which the agent
		// reads the namespace.
		anStart(t, w.ns.name, bins["nctwsrv"], "server", "-addr", w.server)
	}

	a := agStart(t, wrapper, nil, dir, "--top-n", "1000")
	var capEff string
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				capEff = strings.TrimSpace(v)
			}
		}
	}
	if eff, err := strconv.ParseUint(capEff, 16, 64); err != nil || eff&(1<<unix.CAP_SYS_ADMIN) != 0 || eff&(1<<unix.CAP_BPF) == 0 {
		t.Fatalf("agent's effective capabilities %q (%v): want CAP_BPF and no CAP_SYS_ADMIN", capEff, err)
	}

	for _, w := range work {
		w.ports = map[int]string{}
		for _, name := range []string{"ncacli", "ncbcli", "ncshared"} {
			n := w.clients[name]
			if n == 0 {
				continue
			}
			anClients(t, w, bins[name], name, n)
		}
	}

	// Ground truth from ss in each namespace.
	wantTW := map[string]float64{}
	for _, w := range work {
		n := 0
		for _, s := range anSS(t, w.ns.name) {
			if s[0] != "TIME-WAIT" {
				continue
			}
			lp := anPort(t, s[1])
			name := w.ports[lp]
			if name == "" || lp < w.lo || lp > w.hi {
				t.Fatalf("%s: TIME_WAIT %s -> %s is no client's, or outside %d-%d", w.ns.name, s[1], s[2], w.lo, w.hi)
			}
			wantTW[name]++
			n++
		}
		if n != len(w.ports) {
			t.Fatalf("%s: ss shows %d TIME_WAIT sockets, want %d", w.ns.name, n, len(w.ports))
		}
	}
	if wantTW["ncshared"] != 7 || wantTW["ncacli"] != 6 || wantTW["ncbcli"] != 5 {
		t.Fatalf("ground truth %v is not the workload's", wantTW)
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])

	var got map[string]map[string]float64
	check := func() string {
		var diffs []string
		for name, n := range wantTW {
			if v := got["bpfnetstat_timewait_sockets"][name]; v != n {
				diffs = append(diffs, fmt.Sprintf("timewait{comm=%q} = %v, want %v", name, v, n))
			}
		}
		for k, v := range got["bpfnetstat_ephemeral_ports_in_use"] {
			if strings.HasSuffix(k, "/8080") || strings.HasSuffix(k, "/9090") {
				diffs = append(diffs, fmt.Sprintf("ephemeral_ports_in_use{%s} = %v, want no series: the namespaces' ranges cannot be read", k, v))
			}
		}
		if v := got["bpfnetstat_ephemeral_port_range_size"][""]; v != float64(hi-lo+1) {
			diffs = append(diffs, fmt.Sprintf("ephemeral_port_range_size = %v, want %d (the agent's own namespace's)", v, hi-lo+1))
		}
		// The agent's own namespace is walked or skipped; every other
		// namespace of the host fails, the test's two among them.
		all := ncHostNamespaces(t)
		ns := got["bpfnetstat_snapshot_namespaces"]
		if ns["walked"]+ns["skipped"] != 1 || ns["failed"] != float64(len(all)-1) || !all[inos[work[0].ns.name]] || !all[inos[work[1].ns.name]] {
			diffs = append(diffs, fmt.Sprintf("snapshot_namespaces %v, want walked+skipped 1 (the agent's own) and failed %d (every other namespace of the host)", ns, len(all)-1))
		}
		if d, ok := got["bpfnetstat_snapshot_duration_seconds"][""]; !ok || d <= 0 || d > 5 {
			diffs = append(diffs, fmt.Sprintf("snapshot_duration_seconds %v (%v), want a positive duration", d, ok))
		}
		return strings.Join(diffs, "\n")
	}
	anAwait(t, a, func() (err error) {
		got, err = ncScrape(a.listen)
		return err
	}, check)
	t.Logf("timewait by owner %v, namespaces %v", wantTW, got["bpfnetstat_snapshot_namespaces"])

	// A few more snapshots (300 ms apart): the refusal is said once.
	time.Sleep(time.Second)
	a.stop(t)
	for _, w := range work {
		ino := inos[w.ns.name]
		want := fmt.Sprintf("network namespace %d (", ino)
		if n := strings.Count(a.stderr.String(), want); n != 1 {
			t.Errorf("namespace %d (%s) named %d times on stderr, want once:\n%s", ino, w.ns.name, n, a.stderr)
		}
		for line := range strings.Lines(a.stderr.String()) {
			if !strings.Contains(line, want) {
				continue
			}
			_, rest, _ := strings.Cut(line, want)
			rest, _, _ = strings.Cut(rest, "; network namespace ")
			if !strings.HasPrefix(line, "bpfnetstat: snapshot: ") || !strings.Contains(rest, "joining: operation not permitted; reading its TIME_WAIT sockets from /proc/PID/net of a process inside, not its ephemeral ports") {
				t.Errorf("namespace %d: %q", ino, line)
			}
		}
	}
}
