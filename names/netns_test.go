package names

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Lookup tests must never send a DNS query off the machine, and a reverse
// lookup that misses /etc/hosts does exactly that under "hosts: files dns".
// So they run in a child test process inside a private network namespace
// (`ip netns exec`), which bind-mounts private copies of the name files over
// /etc: hosts: files only, and a resolv.conf pointing at 127.0.0.1 on a
// loopback that is down, should anything still try DNS.

const (
	// childEnv names the namespace a child test process runs in.
	childEnv = "BPFNETSTAT_NAMES_NETNS"
	// requireRootEnv makes tests that need root fail instead of skipping.
	requireRootEnv = "BPFNETSTAT_REQUIRE_ROOT"
	// testFileMarker starts every private file, so the child can tell it
	// really sees them before it looks anything up.
	testFileMarker = "# bpfnetstat snapshot/names test file"
	nscdSocket     = "/var/run/nscd/socket"
)

var privateEtc = map[string]string{
	"hosts":     hostsFixture,
	"networks":  networksFixture,
	"services":  servicesFixture,
	"protocols": protocolsFixture,
	"passwd":    passwdFixture,
	"nsswitch.conf": testFileMarker + `
passwd:    files
group:     files
hosts:     files
networks:  files
protocols: files
services:  files
`,
	"resolv.conf": testFileMarker + `
nameserver 127.0.0.1
options timeout:1 attempts:1
`,
}

var netns struct {
	once       sync.Once
	name       string
	dir        string
	madeNetnsD bool // /etc/netns did not exist before
	err        error
}

func TestMain(m *testing.M) {
	code := m.Run()
	removeNetns()
	os.Exit(code)
}

// skipOrFail skips t, or fails it when BPFNETSTAT_REQUIRE_ROOT=1 so that a
// green CI run cannot hide a skipped test.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(requireRootEnv) == "1" {
		t.Fatalf(format+" (and "+requireRootEnv+"=1)", args...)
	}
	t.Skipf(format, args...)
}

// inPrivateNetns reports whether the calling top-level test should run its
// body now. In the child process it checks that the private files are in
// place and returns true. Otherwise it runs the same test again in a child
// process inside the private namespace, fails t if the child fails, and
// returns false.
func inPrivateNetns(t *testing.T) bool {
	t.Helper()
	if name := os.Getenv(childEnv); name != "" {
		for file := range privateEtc {
			path := filepath.Join("/etc", file)
			data, err := os.ReadFile(path)
			if err != nil || !bytes.HasPrefix(data, []byte(testFileMarker)) {
				t.Fatalf("%s is not the private copy of network namespace %s (%v); refusing to look names up", path, name, err)
			}
		}
		if _, err := os.Stat(nscdSocket); err == nil {
			t.Fatalf("%s exists: glibc would ask nscd instead of the private files", nscdSocket)
		}
		return true
	}

	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to make a network namespace with private /etc files (ip netns)")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		skipOrFail(t, "needs the ip command (iproute2) to make a network namespace: %v", err)
	}
	if _, err := os.Stat(nscdSocket); err == nil {
		skipOrFail(t, "%s exists: glibc would ask nscd, which sees the real /etc and DNS", nscdSocket)
	}
	name, err := setupNetns(ip)
	if err != nil {
		t.Fatalf("setting up network namespace: %v", err)
	}

	cmd := exec.Command(ip, "netns", "exec", name, os.Args[0],
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in network namespace %s: %v\n%s", t.Name(), name, err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s did not pass in network namespace %s:\n%s", t.Name(), name, out)
	}
	t.Logf("passed in network namespace %s:\n%s", name, out)
	return false
}

// setupNetns makes, once per test process, a network namespace and its
// /etc/netns/NAME directory of private files.
func setupNetns(ip string) (string, error) {
	netns.once.Do(func() {
		name := fmt.Sprintf("bpfnetstat-names-%d", os.Getpid())
		if _, err := os.Stat("/etc/netns"); errors.Is(err, fs.ErrNotExist) {
			netns.madeNetnsD = true
		}
		dir := filepath.Join("/etc/netns", name)
		netns.dir = dir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			netns.err = err
			return
		}
		for file, text := range privateEtc {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
				netns.err = err
				return
			}
		}
		if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
			netns.err = fmt.Errorf("ip netns add %s: %v: %s", name, err, strings.TrimSpace(string(out)))
			return
		}
		netns.name = name
	})
	return netns.name, netns.err
}

// removeNetns undoes setupNetns.
func removeNetns() {
	if netns.name != "" {
		if out, err := exec.Command("ip", "netns", "del", netns.name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip netns del %s: %v: %s\n", netns.name, err, out)
		}
	}
	if netns.dir != "" {
		os.RemoveAll(netns.dir)
		if netns.madeNetnsD {
			os.Remove("/etc/netns") // only if empty
		}
	}
}
