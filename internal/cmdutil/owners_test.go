package cmdutil

import (
	"testing"

	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestUseOwnerIterator(t *testing.T) {
	env := func(root string, euid int, vars map[string]string) Env {
		return Env{ProcRoot: root, Geteuid: func() int { return euid }, Getenv: func(k string) string { return vars[k] }}
	}
	useOwnerIterator := func(env Env, asNetstat bool) bool {
		return owners.UsesIterator(snapshot.NewFS(env.ProcRoot), OwnerOptions(env, asNetstat))
	}
	never := []struct {
		name      string
		env       Env
		asNetstat bool
	}{
		{"not root", env("/proc", 1000, map[string]string{"BPFNETSTAT_OWNERS": "iter"}), false},
		{"fixture root", env("/tmp/fixture", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter"}), false},
		{"owners from proc", env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "proc"}), false},
		{"everything from proc", env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter", "BPFNETSTAT_SOURCE": "proc"}), false},
		{"invoked as netstat", env("/proc", 0, nil), true},
	}
	for _, c := range never {
		if useOwnerIterator(c.env, c.asNetstat) {
			t.Errorf("%s: chose the iterator", c.name)
		}
	}
	// Asked for, as root on the live /proc: the iterator, when /proc is
	// this test's PID namespace's.
	for _, asNetstat := range []bool{false, true} {
		if got, want := useOwnerIterator(env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter"}), asNetstat), owners.ProcIsOurPIDNamespace(); got != want {
			t.Errorf("BPFNETSTAT_OWNERS=iter as root (as netstat: %v): %v, want %v", asNetstat, got, want)
		}
	}
	if n := owners.OpenFiles(); n <= 0 {
		t.Errorf("open files on this machine: %d", n)
	}
}
