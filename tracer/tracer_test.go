package tracer

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// requireBPF skips a test that loads BPF programs when not root, and fails
// it instead when BPFNETSTAT_REQUIRE_ROOT=1, so that CI cannot skip it.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
		t.Fatal("loading BPF programs needs root, and BPFNETSTAT_REQUIRE_ROOT=1 forbids skipping")
	}
	t.Skip("loading BPF programs needs root")
}

// TestCounterFields: every counter of the C enum (bpf/tracer.h) below
// COUNTER_MAX has a Counters field, so a counter added in C cannot go
// unread.
func TestCounterFields(t *testing.T) {
	spec, err := loadTracer()
	if err != nil {
		t.Fatal(err)
	}
	var enum *btf.Enum
	if err := spec.Types.TypeByName("counter", &enum); err != nil {
		t.Fatal(err)
	}
	var c Counters
	fields := counterFields(&c)
	max := -1
	for _, v := range enum.Values {
		if v.Name == "COUNTER_MAX" {
			max = int(v.Value)
			continue
		}
		if _, ok := fields[tracerCounter(v.Value)]; !ok {
			t.Errorf("counter %s (%d) has no Counters field", v.Name, v.Value)
		}
	}
	if max != len(fields) {
		t.Errorf("COUNTER_MAX is %d, Counters reads %d counters", max, len(fields))
	}
}

func TestLoadErrorMessageAndChain(t *testing.T) {
	cause := errors.New("operation not permitted")
	err := error(&LoadError{Op: "attaching tp_btf/sys_exit", Err: cause})
	if got, want := err.Error(), "loading tracer objects: attaching tp_btf/sys_exit: operation not permitted"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if !errors.Is(err, cause) || errors.Is(err, ErrNoHook) {
		t.Errorf("errors.Is: cause %v, ErrNoHook %v; want true, false", errors.Is(err, cause), errors.Is(err, ErrNoHook))
	}
	hooks := []HookStatus{{Name: "tp_btf/inet_sock_set_state", Role: "state", Err: cause}}
	noHook := error(&LoadError{Op: "attaching tp_btf/inet_sock_set_state", Err: cause, Hooks: hooks, noHook: true})
	if !errors.Is(noHook, ErrNoHook) || !errors.Is(noHook, cause) {
		t.Errorf("no hook: errors.Is ErrNoHook %v, cause %v; want both", errors.Is(noHook, ErrNoHook), errors.Is(noHook, cause))
	}
	if got := HooksOf(noHook); len(got) != 1 || got[0].Name != hooks[0].Name {
		t.Errorf("HooksOf gave %v", got)
	}
	if HooksOf(cause) != nil {
		t.Error("HooksOf an unrelated error is not nil")
	}
	arch := error(&LoadError{Op: "choosing the programs", Err: &UnsupportedArchError{Arch: "riscv64"}})
	if !errors.Is(arch, errors.ErrUnsupported) || strings.Contains(arch.Error(), "\n") || !strings.Contains(arch.Error(), "riscv64") {
		t.Errorf("unsupported architecture: %q (errors.ErrUnsupported: %v)", arch, errors.Is(arch, errors.ErrUnsupported))
	}
}

func TestCloseNil(t *testing.T) {
	var tr *Tracer
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}
