package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// Prefixes of everything this suite creates outside its temp dir, followed
// by the creating test process's PID: stale objects of dead processes are
// removed, those of live ones (a concurrent run) are left alone.
const (
	nsPrefix   = "bpfns-e2e-"
	workPrefix = "bpfnetstat-e2e-"
	etcNetns   = "/etc/netns"
)

// Addresses added to lo in every namespace (hostsFile names some). On lo a
// prefix makes every address in it local, so the farm can also bind
// 10.1.0.7 and 127.0.0.6.
var loAddrs = []string{
	"10.1.0.0/8",
	"2001:db8:1234:5678:9abc:def0:1234:5678/128",
	"::10.1.2.3/128",           // inet_ntop: "::10.1.2.3"
	"2001:db8::1:0:0:1/128",    // two equal zero runs: the first is shortened
	"2001:db8:0:1:1:1:1:1/128", // a single zero group is not shortened
}

// hostsFile is the namespace's /etc/hosts. 10.1.0.0 deliberately has no
// name; 127.0.0.5 has a second line that must lose to the first; the names
// of 127.0.0.6 and 10.1.0.7 must come out exactly as written.
const hostsFile = `127.0.0.1	localhost
127.0.0.5	this-is-a-very-long-hostname.example.com	verylong
127.0.0.6	trailing-dot.example.
10.1.0.7	MixedCase-Host.Example
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
2001:db8:1234:5678:9abc:def0:1234:5678	v6long.example.org
127.0.0.5	shadowed-by-the-first-line.example
`

// networksFile is the namespace's /etc/networks (used by netstat for route
// destinations and for socket addresses whose first octet is 0).
const networksFile = `default		0.0.0.0
loopback	127.0.0.0
link-local	169.254.0.0
net10		10.0.0.0
averyveryverylongnetworkname	10.55.0.0
`

// resolvConf points at a resolver that does not exist: a query that got
// past nsswitch would fail at once without leaving the namespace.
const resolvConf = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

// extraUsers are appended to the namespace's copy of /etc/passwd: one user
// name longer than netstat's 10-column User field. (uid 4243, also used by
// the farm, deliberately has no entry.)
const extraUsers = "averyveryverylongusername:x:4242:4242:e2e:/nonexistent:/usr/sbin/nologin\n"

// netns is a private network namespace with its /etc/netns files.
type netns struct {
	name string
}

var nsSeq atomic.Int32

var staleOnce sync.Once

// newNetns creates a namespace with lo up and the suite's addresses, and
// the private resolver files that make every name lookup stay in files.
// The caller owns it and must call close.
func newNetns(t *testing.T) *netns {
	t.Helper()
	staleOnce.Do(func() { removeStale(t) })
	n := &netns{name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))}
	if err := n.writeEtc(); err != nil {
		n.close()
		t.Fatal(err)
	}
	if err := ip("netns", "add", n.name); err != nil {
		n.close()
		t.Fatal(err)
	}
	steps := [][]string{{"link", "set", "lo", "up"}}
	for _, a := range loAddrs {
		steps = append(steps, []string{"addr", "add", a, "dev", "lo", "nodad"})
	}
	for _, args := range steps {
		if err := ip(append([]string{"-n", n.name}, args...)...); err != nil {
			n.close()
			t.Fatal(err)
		}
	}
	return n
}

// writeEtc writes /etc/netns/NAME: `ip netns exec` bind-mounts each file
// over its /etc namesake for the command it runs.
func (n *netns) writeEtc() error {
	dir := filepath.Join(etcNetns, n.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nss, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		return err
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return err
	}
	files := map[string]string{
		"hosts":         hostsFile,
		"networks":      networksFile,
		"resolv.conf":   resolvConf,
		"nsswitch.conf": privateNsswitch(string(nss)),
		"passwd":        string(passwd) + extraUsers,
	}
	for name, text := range files {
		if _, err := os.Stat(filepath.Join("/etc", name)); err != nil {
			return fmt.Errorf("ip netns exec can only replace existing files: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// privateNsswitch rewrites the system's nsswitch.conf so that hosts and
// networks come from files only (no DNS query, ever) and passwd and group
// too (modules such as nss-systemd would open UNIX sockets inside the
// namespace while netstat -e runs, changing the UNIX table under it).
func privateNsswitch(system string) string {
	want := map[string]string{"hosts": "files", "networks": "files", "passwd": "files", "group": "files"}
	var b strings.Builder
	for line := range strings.Lines(system) {
		key, _, ok := strings.Cut(line, ":")
		if v, found := want[strings.TrimSpace(key)]; ok && found && !strings.HasPrefix(line, "#") {
			fmt.Fprintf(&b, "%-15s %s\n", strings.TrimSpace(key)+":", v)
			delete(want, strings.TrimSpace(key))
			continue
		}
		b.WriteString(line)
	}
	for _, key := range []string{"hosts", "networks", "passwd", "group"} {
		if v, ok := want[key]; ok {
			fmt.Fprintf(&b, "%-15s %s\n", key+":", v)
		}
	}
	return b.String()
}

// close kills whatever still runs in the namespace, deletes it and its
// /etc/netns directory. It is safe to call on a half-made namespace.
func (n *netns) close() error {
	if os.Getenv(envKeep) == "1" {
		return nil
	}
	killNetnsPids(n.name)
	var errs []string
	if _, err := os.Stat(filepath.Join("/run/netns", n.name)); err == nil {
		if err := ip("netns", "del", n.name); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := os.RemoveAll(filepath.Join(etcNetns, n.name)); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("removing namespace %s: %s", n.name, strings.Join(errs, "; "))
	}
	return nil
}

func killNetnsPids(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes namespaces, /etc/netns directories and work
// directories left by earlier runs of this suite that crashed; it leaves
// those of processes still alive alone.
func removeStale(t *testing.T) {
	t.Helper()
	dead := func(name, prefix string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return false
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			return false
		}
		_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 && dead(fields[0], nsPrefix) {
			t.Logf("removing stale namespace %s", fields[0])
			if err := (&netns{name: fields[0]}).close(); err != nil {
				t.Log(err)
			}
		}
	}
	for _, pattern := range []string{filepath.Join(etcNetns, nsPrefix+"*"), filepath.Join(os.TempDir(), workPrefix+"*"), "/tmp/" + workPrefix + "*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			prefix := nsPrefix
			if strings.Contains(filepath.Base(m), workPrefix) {
				prefix = workPrefix
			}
			if dead(filepath.Base(m), prefix) {
				t.Logf("removing stale %s", m)
				os.RemoveAll(m)
			}
		}
	}
}

// ip runs ip(8) and returns its output in the error.
func ip(args ...string) error {
	cmd := exec.Command("ip", args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	return nil
}
