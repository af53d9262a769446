package e2e

// TestIdentity makes real cgroups under the host's cgroup2 mount (found in
// mountinfo) with the names container runtimes give them, moves real
// server and client processes into them before they listen or connect,
// runs them in a private network namespace, and holds every connection's
// cgroup, container_id, pod_uid and unit in life, trace, timewait and
// -p --json to what the test made:
//
//	<parent>/system.slice/bpfnetstat-test.service        a unit: server S1
//	<parent>/system.slice/docker-<id>.scope               Docker: client of S1
//	<parent>/kubepods.slice/kubepods-besteffort.slice/
//	    kubepods-besteffort-pod<uid_>.slice/
//	    cri-containerd-<a>.scope                          pod (systemd driver): server S2
//	    cri-containerd-<b>.scope                          same pod: client of S2
//	<parent>/kubepods/besteffort/pod<uid>/<c>             pod (cgroupfs driver): client of S1
//	<parent>/kubepods/besteffort/pod<uid>/<d>             same pod: client of S2
//
// where <parent> is bpfnetstat-test-<pid>. Clients close first, so their
// ends stay in TIME_WAIT; their cgroups are removed before timewait
// reports, which must still name their containers. The filters are held
// too: life --container keeps exactly the Docker client's connections,
// life --cgroup exactly the systemd-driver pod's, timewait --container
// exactly one container's TIME_WAIT sockets.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
)

// idWant is the identity a connection's owner must have.
type idWant struct{ cgroup, container, pod, unit string }

// idProc is a workload process in its cgroup.
type idProc struct {
	name  string
	cg    string // relative to the cgroup2 mount
	want  idWant
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// idConn is one client connection: the client's port and the server's.
type idConn struct {
	client, server *idProc
	lport, sport   int
}

const idPerClient = 3

func TestIdentity(t *testing.T) {
	trRequireRoot(t)
	h, err := cgroups.FindHostHierarchy()
	if err != nil || h.Mount == "" {
		msg := fmt.Sprintf("needs a cgroup2 hierarchy (mountinfo: %+v, %v)", h, err)
		if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatalf("%s, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping", msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatalf("needs nsenter: %v", err)
	}
	b := trBuild(t)
	ns := trNewNetns(t)
	nsIno := ns.inode(t)
	enterNet := []string{"nsenter", "--net=" + filepath.Join("/run/netns", ns.name)}

	parent := fmt.Sprintf("/bpfnetstat-test-%d", os.Getpid())
	t.Cleanup(func() {
		if err := idRemoveCgroups(h.Mount, parent); err != nil {
			t.Error(err)
		}
	})
	hex := func(c byte) string { return strings.Repeat(string([]byte{c, '1'}), 32) }
	dockerID, podA, podB, cfsC, cfsD := hex('d'), hex('a'), hex('b'), hex('c'), hex('e')
	uid1, uid2 := "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	sdPod := parent + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(uid1, "-", "_") + ".slice"
	cfsPod := parent + "/kubepods/besteffort/pod" + uid2
	procs := map[string]*idProc{
		"s1":     {cg: parent + "/system.slice/bpfnetstat-test.service", want: idWant{unit: "bpfnetstat-test.service"}},
		"docker": {cg: parent + "/system.slice/docker-" + dockerID + ".scope", want: idWant{container: dockerID}},
		"s2":     {cg: sdPod + "/cri-containerd-" + podA + ".scope", want: idWant{container: podA, pod: uid1}},
		"podB":   {cg: sdPod + "/cri-containerd-" + podB + ".scope", want: idWant{container: podB, pod: uid1}},
		"cfsC":   {cg: cfsPod + "/" + cfsC, want: idWant{container: cfsC, pod: uid2}},
		"cfsD":   {cg: cfsPod + "/" + cfsD, want: idWant{container: cfsD, pod: uid2}},
	}
	for name, p := range procs {
		p.name = name
		p.want.cgroup = p.cg
		if err := os.MkdirAll(filepath.Join(h.Mount, p.cg), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The tracers watch every namespace from the host; lines are told
	// apart by netns.
	host := []string{"env"}
	lifeAll := trStartTracer(t, host, b.ours, "life", "--json", "--all-namespaces")
	traceAll := trStartTracer(t, host, b.ours, "trace", "--json", "--all-namespaces")
	lifeDocker := trStartTracer(t, host, b.ours, "life", "--json", "--all-namespaces", "--container", dockerID[:12])
	lifeKube := trStartTracer(t, host, b.ours, "life", "--json", "--all-namespaces", "--cgroup", sdPod)
	// timewait reports once, after the clients' cgroups are gone.
	twAll := idStartTimewait(t, enterNet, b.ours, "--json", "--interval", "7s")
	twD := idStartTimewait(t, enterNet, b.ours, "--json", "--interval", "7s", "--container", cfsD[:20])

	// Servers, then each client in turn.
	const p1, p2 = 8081, 8082
	idStart(t, h.Mount, enterNet, procs["s1"], fmt.Sprintf("serve,%d,%d", p1, 2*idPerClient))
	idStart(t, h.Mount, enterNet, procs["s2"], fmt.Sprintf("serve,%d,%d", p2, 2*idPerClient))
	for _, s := range []*idProc{procs["s1"], procs["s2"]} {
		if l := idLine(t, s); l != "ready" {
			t.Fatalf("%s: %q, want ready", s.name, l)
		}
	}
	idCheckListing(t, enterNet, b.ours, map[int]*idProc{p1: procs["s1"], p2: procs["s2"]})

	var conns []idConn
	for _, c := range []struct {
		client string
		server string
		port   int
	}{{"docker", "s1", p1}, {"podB", "s2", p2}, {"cfsC", "s1", p1}, {"cfsD", "s2", p2}} {
		p := procs[c.client]
		idStart(t, h.Mount, enterNet, p, fmt.Sprintf("connect,%d,%d", c.port, idPerClient))
		for i := 0; i < idPerClient; i++ {
			l := idLine(t, p)
			port, err := strconv.Atoi(strings.TrimPrefix(l, "conn "))
			if err != nil {
				t.Fatalf("%s: %q, want conn PORT", p.name, l)
			}
			conns = append(conns, idConn{client: p, server: procs[c.server], lport: port, sport: c.port})
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		// Its connections stand in TIME_WAIT; its cgroup goes now.
		if err := os.Remove(filepath.Join(h.Mount, p.cg)); err != nil {
			t.Fatalf("removing %s's cgroup: %v", p.name, err)
		}
	}
	for _, s := range []*idProc{procs["s1"], procs["s2"]} {
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the last closes reach the tracers
	for _, tr := range []*trTracer{lifeAll, traceAll, lifeDocker, lifeKube} {
		tr.stop(t, syscall.SIGINT)
	}

	life := idLines(t, lifeAll, "life_line", nsIno)
	trace := idLines(t, traceAll, "trace_line", nsIno)
	for _, c := range conns {
		for _, side := range []struct {
			dir          string
			lport, rport int
			owner        *idProc
		}{{"active", c.lport, c.sport, c.client}, {"passive", c.sport, c.lport, c.server}} {
			what := fmt.Sprintf("%s's connection %d -> %d, %s end", c.client.name, c.lport, c.sport, side.dir)
			n := 0
			for _, l := range life {
				if idNum(l, "lport") == side.lport && idNum(l, "rport") == side.rport {
					n++
					idCheck(t, "life: "+what, l, side.owner.want)
				}
			}
			if n != 1 {
				t.Errorf("life: %d lines of %s, want 1", n, what)
			}
			n = 0
			for _, l := range trace {
				if idNum(l, "lport") == side.lport && idNum(l, "rport") == side.rport {
					n++
					idCheck(t, "trace: "+what, l, side.owner.want)
				}
			}
			if n < 3 {
				t.Errorf("trace: %d lines of %s, want at least 3", n, what)
			}
		}
	}

	// The filters: exactly the connections of the owners inside.
	idCheckFiltered(t, "life --container", idLines(t, lifeDocker, "life_line", 0), conns, func(p *idProc) bool { return p == procs["docker"] })
	idCheckFiltered(t, "life --cgroup", idLines(t, lifeKube, "life_line", 0), conns, func(p *idProc) bool { return strings.HasPrefix(p.cg, sdPod+"/") })

	// The kernel dropped what the filter left out: the Docker client's 3
	// connections of our 24 ends reach the filtered tracer, the other
	// ends never leave the kernel (whatever else the machine did in the
	// meantime, both tracers saw the same).
	if all, docker := idEvents(t, lifeAll), idEvents(t, lifeDocker); docker > all-12 {
		t.Errorf("life --container read %d events from the kernel, life %d: the filter is not applied in the kernel", docker, all)
	}

	// timewait, after the clients' cgroups were removed.
	all := idTimewait(t, twAll)
	if got := idNum(all, "time_wait"); got != 4*idPerClient {
		t.Errorf("timewait: time_wait %d, want %d", got, 4*idPerClient)
	}
	want := map[string]int{dockerID: idPerClient, podB: idPerClient, cfsC: idPerClient, cfsD: idPerClient}
	if got := idCounts(all["by_container"]); !idSameCounts(got, want) {
		t.Errorf("timewait: by_container %v, want %v", got, want)
	}
	one := idTimewait(t, twD)
	if got := idCounts(one["by_container"]); idNum(one, "time_wait") != idPerClient || !idSameCounts(got, map[string]int{cfsD: idPerClient}) {
		t.Errorf("timewait --container %s: time_wait %v, by_container %v; want %d of %s only", cfsD[:20], one["time_wait"], got, idPerClient, cfsD)
	}
}

// TestIdHelperProcess is a workload process of TestIdentity; it does
// nothing in a normal run. It waits for a line on stdin (its cgroup is
// set by then), then serves or connects:
//
//	serve,PORT,N    listen on 127.0.0.1:PORT, print "ready", answer N
//	                connections one at a time: read a byte, write one, and
//	                close once the client has (the client's end takes the
//	                TIME_WAIT)
//	connect,PORT,N  N connections in turn: print "conn LPORT", write a
//	                byte, read one, close
func TestIdHelperProcess(t *testing.T) {
	spec := os.Getenv("BPFNETSTAT_ID_HELPER")
	if spec == "" {
		return
	}
	f := strings.Split(spec, ",")
	port, _ := strconv.Atoi(f[1])
	n, _ := strconv.Atoi(f[2])
	bufio.NewReader(os.Stdin).ReadString('\n')
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	one := make([]byte, 1)
	switch f[0] {
	case "serve":
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("ready")
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, one); err != nil {
				t.Fatal(err)
			}
			c.Write(one)
			io.Copy(io.Discard, c) // until the client's FIN
			c.Close()
		}
		ln.Close()
	case "connect":
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, lport, _ := strings.Cut(c.LocalAddr().String(), ":")
			fmt.Println("conn " + lport)
			c.Write(one)
			if _, err := io.ReadFull(c, one); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
}

// idStart starts p's process in the network namespace, moves it into its
// cgroup, and only then lets it go on.
func idStart(t *testing.T, mount string, enter []string, p *idProc, spec string) {
	t.Helper()
	p.cmd = exec.Command(enter[0], append(enter[1:len(enter):len(enter)], os.Args[0], "-test.run=^TestIdHelperProcess$")...)
	p.cmd.Env = append(os.Environ(), "BPFNETSTAT_ID_HELPER="+spec)
	p.cmd.Stderr = os.Stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	p.lines = make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	if err := os.WriteFile(filepath.Join(mount, p.cg, "cgroup.procs"), []byte(strconv.Itoa(p.cmd.Process.Pid)), 0o644); err != nil {
		t.Fatalf("moving %s into %s: %v", p.name, p.cg, err)
	}
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

func idLine(t *testing.T, p *idProc) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%s ended early", p.name)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("%s said nothing for 20s", p.name)
	}
	return ""
}

// idCheckListing holds -tlnp --json and --identity inside the namespace
// to the servers' cgroups.
func idCheckListing(t *testing.T, enter []string, bin string, servers map[int]*idProc) {
	t.Helper()
	out, err := exec.Command(enter[0], append(enter[1:len(enter):len(enter)], bin, "-tlnp", "--json")...).Output()
	if err != nil {
		t.Fatalf("-tlnp --json: %v", err)
	}
	rows := validateArray(t, "socket_listing", "bpfnetstat -tlnp --json", string(out))
	for port, p := range servers {
		n := 0
		for _, r := range rows {
			if o, _ := r.(map[string]any); idNum(o, "lport") == port {
				n++
				idCheck(t, fmt.Sprintf("-tlnp --json, port %d", port), o, p.want)
			}
		}
		if n != 1 {
			t.Errorf("-tlnp --json: %d rows for port %d, want 1:\n%s", n, port, out)
		}
	}
	text, err := exec.Command(enter[0], append(enter[1:len(enter):len(enter)], bin, "-tlnp", "--identity")...).Output()
	if err != nil {
		t.Fatalf("-tlnp --identity: %v", err)
	}
	for port, p := range servers {
		found := false
		for _, line := range strings.Split(string(text), "\n") {
			if strings.Contains(line, fmt.Sprintf("127.0.0.1:%d ", port)) && strings.HasSuffix(line, " "+p.cg) {
				found = true
			}
		}
		if !found {
			t.Errorf("-tlnp --identity: no row for port %d ending with %s:\n%s", port, p.cg, text)
		}
	}
}

// idLines validates a tracer's JSON lines and keeps those of netns (all
// when 0).
func idLines(t *testing.T, tr *trTracer, kind string, netns uint64) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(tr.stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	var out []map[string]any
	for _, o := range validateLines(t, kind, "bpfnetstat "+strings.Join(tr.cmd.Args[2:], " "), string(data)) {
		if netns == 0 || uint64(idNum(o, "netns")) == netns {
			out = append(out, o)
		}
	}
	return out
}

func idNum(o map[string]any, k string) int {
	switch v := o[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case float64:
		return int(v)
	}
	n, _ := strconv.Atoi(fmt.Sprint(o[k]))
	return n
}

func idCheck(t *testing.T, what string, o map[string]any, want idWant) {
	t.Helper()
	got := idWant{fmt.Sprint(o["cgroup"]), fmt.Sprint(o["container_id"]), fmt.Sprint(o["pod_uid"]), fmt.Sprint(o["unit"])}
	if got != want {
		t.Errorf("%s: identity %+v, want %+v", what, got, want)
	}
}

// idCheckFiltered: a filtered tracer's lines are exactly the ends whose
// owner is inside, each once, with that owner's identity.
func idCheckFiltered(t *testing.T, what string, lines []map[string]any, conns []idConn, inside func(*idProc) bool) {
	t.Helper()
	want := map[[2]int]*idProc{}
	for _, c := range conns {
		if inside(c.client) {
			want[[2]int{c.lport, c.sport}] = c.client
		}
		if inside(c.server) {
			want[[2]int{c.sport, c.lport}] = c.server
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: the test filters nothing in", what)
	}
	seen := map[[2]int]int{}
	for _, l := range lines {
		k := [2]int{idNum(l, "lport"), idNum(l, "rport")}
		p, ok := want[k]
		if !ok {
			t.Errorf("%s: a line of a connection outside the filter: %v", what, l)
			continue
		}
		seen[k]++
		idCheck(t, what, l, p.want)
	}
	for k, p := range want {
		if seen[k] != 1 {
			t.Errorf("%s: %d lines of %s's end %d -> %d, want 1", what, seen[k], p.name, k[0], k[1])
		}
	}
}

// idEvents is the event count of a stopped tracer's loss line.
func idEvents(t *testing.T, tr *trTracer) int {
	t.Helper()
	for _, l := range strings.Split(tr.stderrText(), "\n") {
		if m := trLossLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Fatalf("bpfnetstat %s printed no loss line:\n%s", tr.name, tr.stderrText())
	return 0
}

// idTimewaitRun is a running timewait --count 1.
type idTimewaitRun struct {
	cmd      *exec.Cmd
	out, err strings.Builder
}

// idStartTimewait starts timewait in the namespace and waits until its
// tracer's programs are loaded.
func idStartTimewait(t *testing.T, enter []string, bin string, args ...string) *idTimewaitRun {
	t.Helper()
	before := trProgs()
	r := &idTimewaitRun{}
	r.cmd = exec.Command(enter[0], append(append(enter[1:len(enter):len(enter)], bin, "timewait", "--count", "1"), args...)...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.err
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	for deadline := time.Now().Add(trAttachTimeout); ; {
		n := 0
		for id := range trProgs() {
			if _, ok := before[id]; !ok {
				n++
			}
		}
		if n >= 3 {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("timewait %v loaded no tracer within %v: %s", args, trAttachTimeout, r.err.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func idTimewait(t *testing.T, r *idTimewaitRun) map[string]any {
	t.Helper()
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("timewait: %v\n%s", err, r.err.String())
	}
	lines := validateLines(t, "timewait_line", "bpfnetstat "+strings.Join(r.cmd.Args[2:], " "), r.out.String())
	if len(lines) != 1 {
		t.Fatalf("timewait: %d lines, want 1:\n%s", len(lines), r.out.String())
	}
	return lines[0]
}

func idCounts(v any) map[string]int {
	m := map[string]int{}
	arr, _ := v.([]any)
	for _, e := range arr {
		o, _ := e.(map[string]any)
		m[fmt.Sprint(o["key"])] = idNum(o, "count")
	}
	return m
}

func idSameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// idRemoveCgroups moves every process out of the cgroups under parent
// to the root cgroup and removes them, deepest first.
func idRemoveCgroups(mount, parent string) error {
	root := filepath.Join(mount, parent)
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs)
	var errs []string
	for _, d := range dirs {
		procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(procs)) {
			os.WriteFile(filepath.Join(mount, "cgroup.procs"), []byte(f), 0o644)
		}
		var err error
		for i := 0; i < 50; i++ {
			if err = os.Remove(d); err == nil || os.IsNotExist(err) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond) // a process still leaving
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("removing test cgroups: %s", strings.Join(errs, "; "))
	}
	return nil
}
