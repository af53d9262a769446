//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// TestObjectNames: the kernel keeps 15 characters of a program's or map's
// name (BPF_OBJ_NAME_LEN); a longer one would show cut in bpftool and in
// doctor's statistics.
func TestObjectNames(t *testing.T) {
	for _, load := range []func() (*ebpf.CollectionSpec, error){loadTracer, loadOwners} {
		spec, err := load()
		if err != nil {
			t.Fatal(err)
		}
		for name := range spec.Programs {
			if len(name) > 15 {
				t.Errorf("program %s: %d characters, the kernel keeps 15", name, len(name))
			}
		}
		for name := range spec.Maps {
			if len(name) > 15 {
				t.Errorf("map %s: %d characters, the kernel keeps 15", name, len(name))
			}
		}
	}
}

// TestHookTableCoversPrograms: every program of the object has a hook,
// but the one user space runs itself (forget_kept, a syscall program).
func TestHookTableCoversPrograms(t *testing.T) {
	spec, err := loadTracer()
	if err != nil {
		t.Fatal(err)
	}
	var specs tracerSpecs
	if err := spec.Assign(&specs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range hookTable(&specs.tracerProgramSpecs, "/sys/kernel/tracing", nil) {
		if h.prog == nil {
			t.Errorf("hook %s has no program", h.name)
			continue
		}
		seen[h.prog.Name] = true
	}
	for name, p := range spec.Programs {
		if !seen[name] && p.Type != ebpf.Syscall {
			t.Errorf("program %s is in no hook", name)
		}
	}
}

// kernelObjects are the IDs of the BPF programs, links and maps that bear
// the tracer's names.
type kernelObjects struct {
	progs map[ebpf.ProgramID]string
	links map[link.ID]ebpf.ProgramID
	maps  map[ebpf.MapID]string
}

func (k kernelObjects) String() string {
	return fmt.Sprintf("programs %v, links %v, maps %v", k.progs, k.links, k.maps)
}

func (k kernelObjects) empty() bool { return len(k.progs)+len(k.links)+len(k.maps) == 0 }

// tracerObjectsNow lists the kernel's programs, links and maps named as the
// tracer's are, leaving out those in skip.
func tracerObjectsNow(t *testing.T, skip kernelObjects) kernelObjects {
	t.Helper()
	spec, err := loadTracer()
	if err != nil {
		t.Fatal(err)
	}
	k := kernelObjects{progs: map[ebpf.ProgramID]string{}, links: map[link.ID]ebpf.ProgramID{}, maps: map[ebpf.MapID]string{}}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, ours := spec.Programs[info.Name]; ours {
			if _, old := skip.progs[id]; !old {
				k.progs[id] = info.Name
			}
		}
	}
	it := new(link.Iterator)
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			t.Fatal(err)
		}
		if _, old := skip.links[info.ID]; old {
			continue
		}
		p, err := ebpf.NewProgramFromID(info.Program)
		if err != nil {
			continue
		}
		pi, err := p.Info()
		p.Close()
		if err == nil {
			if _, ours := spec.Programs[pi.Name]; ours {
				k.links[info.ID] = info.Program
			}
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		info, err := m.Info()
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		ms, ours := spec.Maps[info.Name]
		if ours && ms.Type == info.Type && ms.ValueSize == info.ValueSize {
			if _, old := skip.maps[id]; !old {
				k.maps[id] = info.Name
			}
		}
	}
	return k
}

// waitGone polls until none of the tracer's objects made since before is
// left: the kernel frees a closed object's ID at once, but a link's or
// program's last reference may be dropped from a work queue.
func waitGone(t *testing.T, before kernelObjects) kernelObjects {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := tracerObjectsNow(t, before)
		if left.empty() || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noGC turns the garbage collector off for the test: cilium/ebpf closes
// the file descriptor of an object that is garbage collected, which would
// hide a leak.
func noGC(t *testing.T) {
	runtime.GC()
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// TestOpenClose: Open attaches one link per attached hook and leaves the
// probed fallbacks detached; Close (twice) leaves no program, link or map.
func TestOpenClose(t *testing.T) {
	requireBPF(t)
	noGC(t)
	before := tracerObjectsNow(t, kernelObjects{})
	tr, err := Open(Config{ProbeAll: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	attached := 0
	for _, h := range tr.Hooks {
		if h.Attached {
			attached++
		}
	}
	// And forget_kept, which the sweep runs, with no link.
	progs := attached
	if tr.forgetProg != nil {
		progs++
	}
	// The probed fallbacks' programs are freed once the kernel drops
	// their detached links' last reference, maybe from a work queue.
	var during kernelObjects
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		during = tracerObjectsNow(t, before)
		if len(during.progs) == progs || time.Now().After(deadline) {
			break
		}
	}
	if attached == 0 || len(during.links) != attached || len(during.progs) != progs || len(during.maps) == 0 {
		t.Errorf("with %d hooks attached the kernel holds %v; want a link and a program per hook, forget_kept, and the maps", attached, during)
	}
	if _, err := tr.Counters(); err != nil {
		t.Errorf("Counters: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var ev Event
	if err := tr.Read(&ev); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want os.ErrClosed", err)
	}
	if left := waitGone(t, before); !left.empty() {
		t.Errorf("after Close the kernel still holds %v", left)
	}
}

// TestGroupFailsWhole: when a hook of a group fails, the group's hooks
// already attached are detached again and their programs freed.
func TestGroupFailsWhole(t *testing.T) {
	requireBPF(t)
	noGC(t)
	spec, err := loadTracer()
	if err != nil {
		t.Fatal(err)
	}
	var specs tracerSpecs
	if err := spec.Assign(&specs); err != nil {
		t.Fatal(err)
	}
	var m tracerMaps
	if err := spec.LoadAndAssign(&m, nil); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	shared := map[string]*ebpf.Map{specs.Counters.Name: m.Counters, specs.Events.Name: m.Events, specs.Handled.Name: m.Handled, specs.SkInfos.Name: m.SkInfos,
		specs.SkStates.Name: m.SkStates, specs.SkSlots.Name: m.SkSlots, specs.AccSlots.Name: m.AccSlots, specs.Listeners.Name: m.Listeners}
	load := func(ps *ebpf.ProgramSpec) (*ebpf.Program, error) {
		var one struct {
			P *ebpf.Program `ebpf:"set_state_btf"`
		}
		if ps != specs.SetStateBtf {
			return nil, fmt.Errorf("the test loads set_state_btf only, not %s", ps.Name)
		}
		err := spec.LoadAndAssign(&one, &ebpf.CollectionOptions{MapReplacements: shared})
		return one.P, err
	}
	refused := errors.New("refused by the test")
	table := hookTable(&specs.tracerProgramSpecs, "/sys/kernel/tracing", nil)[:3] // the tp_btf group
	table[1].prog = specs.SetStateBtf                                             // attached twice, as the test's load takes only that
	table[1].attach = func(*ebpf.Program) (link.Link, error) { return nil, refused }
	table[2].need = nil // in the group whatever the kernel (PREEMPT_RT or not)

	before := tracerObjectsNow(t, kernelObjects{})
	tr := &Tracer{}
	if tr.attachGroup(table, load) {
		t.Fatal("a group with a failing hook attached")
	}
	if len(tr.Hooks) != 3 || tr.Hooks[0].Attached || !errors.Is(tr.Hooks[0].Err, refused) ||
		!errors.Is(tr.Hooks[1].Err, refused) || !errors.Is(tr.Hooks[2].Err, refused) {
		t.Errorf("hooks %+v: want all three unattached, each naming the refusal", tr.Hooks)
	}
	if len(tr.owned)+len(tr.progs) != 0 {
		t.Errorf("the tracer keeps %d objects and %d programs of a failed group", len(tr.owned), len(tr.progs))
	}
	if left := waitGone(t, before); len(left.progs)+len(left.links) != 0 {
		t.Errorf("after the failed group the kernel still holds %v", left)
	}
}

// TestLoadErrorKeepsVerifierLog: a program the verifier refuses gives a
// short message, and errors.As still reaches the verifier's log.
func TestLoadErrorKeepsVerifierLog(t *testing.T) {
	requireBPF(t)
	bad := &ebpf.ProgramSpec{Name: "bad", Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0)}} // no exit
	_, err := ebpf.NewProgram(bad)
	if err == nil {
		t.Fatal("the verifier took a program without exit")
	}
	lerr := error(&LoadError{Op: "loading bad", Err: explain(err)})
	var ve *ebpf.VerifierError
	if !errors.As(lerr, &ve) || len(ve.Log) == 0 {
		t.Fatalf("errors.As(%v) found no verifier log", lerr)
	}
	if msg := lerr.Error(); len(msg) > 200 {
		t.Errorf("message is %d bytes: %q", len(msg), msg)
	}
}

// TestBPFLSMActive: the LSM accept hook is attached only where the kernel
// lists the BPF LSM among its active modules, whole names only; an
// unreadable list is said, not taken for yes.
func TestBPFLSMActive(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		list string
		want string // "" for active, else a substring of the error
	}{
		{"lockdown,capability,landlock,bpf\n", ""},
		{"bpf", ""},
		{"capability,bpf,selinux", ""},
		{"lockdown,capability,landlock\n", "the BPF LSM is not active"},
		{"capability,bpfx,ebpf", "the BPF LSM is not active"},
		{"", "the BPF LSM is not active"},
	} {
		path := filepath.Join(dir, "lsm")
		if err := os.WriteFile(path, []byte(c.list), 0o644); err != nil {
			t.Fatal(err)
		}
		err := bpfLSMActive(path)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("list %q: %v, want %q", c.list, err, c.want)
		}
	}
	if err := bpfLSMActive(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "cannot tell whether the BPF LSM is active") {
		t.Errorf("no list: %v", err)
	}
}
