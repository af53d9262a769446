package cgroups

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestResolverInCgroupNamespace resolves ids as a container does: from a
// process in its own cgroup namespace (rooted at <test>/ctr) and mount
// namespace, with cgroup2 mounted there. Ids inside resolve to the paths
// the container sees; ids outside (a sibling, the host's root) resolve to
// nothing, never to a wrong path.
func TestResolverInCgroupNamespace(t *testing.T) {
	if os.Getenv("BPFNETSTAT_NS_HELPER") != "" {
		return // the helper runs as TestNamespaceHelper
	}
	h, err := FindHostHierarchy()
	_, uerr := exec.LookPath("unshare")
	if err != nil || h.Mount == "" || os.Geteuid() != 0 || uerr != nil {
		msg := fmt.Sprintf("needs root, unshare and a cgroup2 mount (%+v, %v, %v)", h, err, uerr)
		if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatalf("%s, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping", msg)
		}
		t.Skip(msg)
	}
	base := filepath.Join(h.Mount, fmt.Sprintf("bpfnetstat-test-ns-%d", os.Getpid()))
	ctr, inner, sibling := filepath.Join(base, "ctr"), filepath.Join(base, "ctr", "app.service"), filepath.Join(base, "other")
	t.Cleanup(func() {
		for _, d := range []string{inner, ctr, sibling, base} {
			if b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs")); len(b) > 0 {
				for _, pid := range strings.Fields(string(b)) {
					os.WriteFile(filepath.Join(h.Mount, "cgroup.procs"), []byte(pid), 0o644)
				}
			}
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Error(err)
			}
		}
	})
	for _, d := range []string{inner, sibling} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ino := func(d string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	mnt := t.TempDir()
	// The shell moves itself into ctr, then unshares: the namespace's
	// root is ctr, and cgroup2 mounted in it shows ctr as /.
	script := fmt.Sprintf(`echo $$ > %s/cgroup.procs && exec unshare --cgroup --mount sh -c 'mount -t cgroup2 none %s && exec %s -test.run=^TestNamespaceHelper$'`, ctr, mnt, os.Args[0])
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "BPFNETSTAT_NS_HELPER="+mnt,
		fmt.Sprintf("BPFNETSTAT_NS_IDS=%d=/app.service,%d=/,%d=,1=", ino(inner), ino(ctr), ino(sibling)))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resolved 4 ids") {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
}

// TestNamespaceHelper resolves BPFNETSTAT_NS_IDS (id=want,...) under the
// mount BPFNETSTAT_NS_HELPER, inside the namespaces; it does nothing in a
// normal run.
func TestNamespaceHelper(t *testing.T) {
	mnt := os.Getenv("BPFNETSTAT_NS_HELPER")
	if mnt == "" {
		return
	}
	if InitialNamespace() {
		t.Fatal("still in the initial cgroup namespace")
	}
	n := 0
	for _, pair := range strings.Split(os.Getenv("BPFNETSTAT_NS_IDS"), ",") {
		idText, want, _ := strings.Cut(pair, "=")
		id, _ := strconv.ParseUint(idText, 10, 64)
		for _, viaWalk := range []bool{false, true} {
			r := NewResolver(mnt)
			if viaWalk {
				r.Close()
			}
			got, err := r.Path(id)
			if want == "" && err == nil || want != "" && got != want {
				t.Errorf("id %d (walk %v): %q, %v; want %q", id, viaWalk, got, err, want)
			}
			r.Close()
		}
		n++
	}
	fmt.Printf("resolved %d ids\n", n)
}
