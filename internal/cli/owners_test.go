package cli

import "testing"

func TestUseOwnerIterator(t *testing.T) {
	env := func(root string, euid int, vars map[string]string) Env {
		return Env{ProcRoot: root, Geteuid: func() int { return euid }, Getenv: func(k string) string { return vars[k] }}
	}
	never := []struct {
		name string
		env  Env
	}{
		{"not root", env("/proc", 1000, map[string]string{"BPFNETSTAT_OWNERS": "iter"})},
		{"fixture root", env("/tmp/fixture", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter"})},
		{"owners from proc", env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "proc"})},
		{"everything from proc", env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter", "BPFNETSTAT_SOURCE": "proc"})},
	}
	for _, c := range never {
		if useOwnerIterator(c.env) {
			t.Errorf("%s: chose the iterator", c.name)
		}
	}
	// Asked for, as root on the live /proc: the iterator, when this test
	// runs in the initial PID namespace.
	if got, want := useOwnerIterator(env("/proc", 0, map[string]string{"BPFNETSTAT_OWNERS": "iter"})), inInitialPIDNamespace(); got != want {
		t.Errorf("BPFNETSTAT_OWNERS=iter as root: %v, want %v", got, want)
	}
	if n := openFiles(); n <= 0 {
		t.Errorf("open files on this machine: %d", n)
	}
}
