//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// hook is one way of reaching a role's events: a program and where it
// attaches. The hooks of a role are tried in order of preference, a group
// at a time: a group attaches whole or not at all, and once one has, the
// later groups of the role are skipped.
type hook struct {
	role  string
	group int
	name  string // what doctor shows
	prog  *ebpf.ProgramSpec
	// attach attaches the loaded program.
	attach func(*ebpf.Program) (link.Link, error)
	loss   lossRule
	fix    string // what would make it work
	// need, if set, says why the hook is not needed on this kernel ("":
	// it is); such a hook is not attached and its group does without it.
	need func() string
}

// hookTable lists the hooks, best first, over the generated program specs.
func hookTable(p *tracerProgramSpecs, tracefsDir string, tracefsErr error) []hook {
	tracing := func(prog *ebpf.Program) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: prog})
	}
	tracepoint := func(group, name string) func(*ebpf.Program) (link.Link, error) {
		return func(prog *ebpf.Program) (link.Link, error) {
			if tracefsErr != nil {
				return nil, tracefsErr
			}
			return link.Tracepoint(group, name, prog, nil)
		}
	}
	kprobe := func(symbol string) func(*ebpf.Program) (link.Link, error) {
		return func(prog *ebpf.Program) (link.Link, error) { return link.Kprobe(symbol, prog, nil) }
	}
	lsm := func(prog *ebpf.Program) (link.Link, error) {
		if err := bpfLSMActive(lsmList); err != nil {
			return nil, err
		}
		return link.AttachLSM(link.LSMOptions{Program: prog})
	}
	const btfFix = "needs Linux 5.5+ with BTF (/sys/kernel/btf/vmlinux)"
	// The state programs claim per-socket slots with an atomic
	// compare-and-exchange (bpf/maps.h).
	const stateFix = "needs Linux 5.12+ with BTF (/sys/kernel/btf/vmlinux)"
	tracefsFix := "needs tracefs at " + tracefsDir
	return []hook{
		// State changes: tp_btf with its two catchers (bpf/tracer.bpf.c
		// says why), else the classic tracepoint, else a kprobe.
		{roleState, 0, "tp_btf/inet_sock_set_state", p.SetStateBtf, tracing, lossRecovered, stateFix, nil},
		{roleState, 0, "tp_btf/inet_sock_set_state (nested events)", p.SetStateBtf2, tracing, lossNone, stateFix, nil},
		{roleState, 0, "tp_btf/inet_sock_set_state (nested twice)", p.SetStateBtf3, tracing, lossNone, stateFix, nestsTwice},
		{roleState, 1, "tracepoint/sock/inet_sock_set_state", p.SetStateTp, tracepoint("sock", "inet_sock_set_state"), lossAll, tracefsFix + " and Linux 4.16+", nil},
		{roleState, 2, "kprobe/tcp_set_state", p.SetStateKp, kprobe("tcp_set_state"), lossAll, "needs a kernel built with CONFIG_KPROBES", nil},
		// Accept: the BPF LSM's sock_graft, in the accepting task with no
		// system-call tracepoint (bpf/tracer.bpf.c); else the classic
		// syscall tracepoints (they fire for accept only), with plain
		// loads, else with CO-RE reads; else every syscall exit, filtered.
		{roleAccept, 0, "lsm/sock_graft", p.SockGraft, lsm, lossAll, lsmFix, nil},
		{roleAccept, 1, "tracepoint/syscalls/sys_exit_accept4 (plain loads)", p.Accept4Plain, tracepoint("syscalls", "sys_exit_accept4"), lossAll, tracefsFix + " and Linux 6.2+ (bpf_rdonly_cast)", nil},
		{roleAccept, 1, "tracepoint/syscalls/sys_exit_accept (plain loads)", p.AcceptPlain, tracepoint("syscalls", "sys_exit_accept"), lossAll, tracefsFix + " and Linux 6.2+ (bpf_rdonly_cast)", nil},
		{roleAccept, 2, "tracepoint/syscalls/sys_exit_accept4", p.Accept4Exit, tracepoint("syscalls", "sys_exit_accept4"), lossAll, tracefsFix, nil},
		{roleAccept, 2, "tracepoint/syscalls/sys_exit_accept", p.AcceptExit, tracepoint("syscalls", "sys_exit_accept"), lossAll, tracefsFix, nil},
		{roleAccept, 3, "tp_btf/sys_exit", p.SysExitBtf, tracing, lossAll, "needs Linux 5.5+ with BTF", nil},
		// Cgroup removals: without them a container removed before its
		// first connection's event was read has no path.
		{roleCgroup, 0, "tp_btf/cgroup_rmdir", p.CgroupRmdir, tracing, lossNone, btfFix, nil},
		// Socket ends: the last word on a socket whose -> CLOSE no state
		// program saw (bpf/state.h, on_destroy).
		{roleEnd, 0, "tp_btf/tcp_destroy_sock", p.DestroyBtf, tracing, lossNone, btfFix, nil},
	}
}

// lsmList is where the kernel lists its active security modules.
const lsmList = "/sys/kernel/security/lsm"

// lsmFix is what the LSM accept hook needs.
const lsmFix = "needs the BPF LSM active (bpf in " + lsmList + ", e.g. lsm=...,bpf on the kernel command line) " +
	"and BPF trampolines (the kernel's fentry support), Linux 5.7+"

// errNoTrampolines: root, with the memlock limit raised, was refused an
// LSM program's load.
var errNoTrampolines = fmt.Errorf("loading the program: %w (LSM programs attach through BPF trampolines; "+
	"a kernel without them, as without fentry, refuses the load)", unix.EPERM)

// bpfLSMActive says why an LSM program would never run: the kernel loads
// and attaches one whether or not the BPF LSM is among the active modules,
// and calls it only if it is.
func bpfLSMActive(list string) error {
	b, err := os.ReadFile(list)
	if err != nil {
		return fmt.Errorf("cannot tell whether the BPF LSM is active: %w", err)
	}
	for _, m := range strings.Split(strings.TrimSpace(string(b)), ",") {
		if m == "bpf" {
			return nil
		}
	}
	return fmt.Errorf("the BPF LSM is not active (%s: %s)", list, strings.TrimSpace(string(b)))
}

// nestsTwice says why the second catcher is not needed: a state change
// nests in another only when an interrupt runs softirqs on its way out, and
// softirqs do not nest in softirqs, nor do hard interrupts or NMIs change
// TCP state; so at most one event is nested in a running program, which
// the first catcher takes. Tracepoint programs run with preemption off; on
// PREEMPT_RT, where softirqs and interrupts run in threads, the second
// catcher is kept. A nested event no program took would still be counted
// as lost (the first program's recursion misses less the recovered ones).
func nestsTwice() string {
	if b, err := os.ReadFile("/sys/kernel/realtime"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return ""
	}
	return "not needed: without PREEMPT_RT a state change nests at most once"
}

// Open loads the programs and attaches the best hook group of each role,
// probing every hook for real and recording why the others did not work.
// On failure it returns a nil Tracer and a *LoadError, having released
// everything it made.
func Open(cfg Config) (*Tracer, error) {
	if cfg.RingBytes == 0 {
		cfg.RingBytes = 8 << 20
	}
	if cfg.TracefsDir == "" {
		cfg.TracefsDir = "/sys/kernel/tracing"
	}
	raiseMemlock()
	t := &Tracer{}
	if err := t.open(cfg); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tracer) open(cfg Config) error {
	fail := func(op string, err error) error { return &LoadError{Op: op, Err: err, Hooks: t.Hooks} }
	spec, err := loadTracer()
	if err != nil {
		return fail("reading the BPF object", err)
	}
	var specs tracerSpecs
	if err := spec.Assign(&specs); err != nil {
		return fail("reading the BPF object", err)
	}
	if err := specs.TargetNetns.Set(cfg.NetNS); err != nil {
		return fail("setting target_netns", err)
	}
	if err := specs.WakeupBytes.Set(max(cfg.RingBytes/16, 4096)); err != nil {
		return fail("setting wakeup_bytes", err)
	}
	if nestsTwice() != "" {
		if err := specs.OneCatcher.Set(uint8(1)); err != nil {
			return fail("setting one_catcher", err)
		}
	}
	if cfg.EndsOnly {
		if err := specs.EndsOnly.Set(uint8(1)); err != nil {
			return fail("setting ends_only", err)
		}
	}
	if cfg.EndsOnly && cfg.AcceptInClose {
		if err := specs.AcceptInClose.Set(uint8(1)); err != nil {
			return fail("setting accept_in_close", err)
		}
	}
	if cfg.CgroupDir != "" {
		if err := specs.FilterCgroup.Set(uint8(1)); err != nil {
			return fail("setting filter_cgroup", err)
		}
	}
	pidnsIno, initialPIDNS, err := OwnPIDNamespace()
	if err != nil {
		return fail("finding bpfnetstat's PID namespace", err)
	}
	if !initialPIDNS {
		if err := specs.PidnsIno.Set(pidnsIno); err != nil {
			return fail("setting pidns_ino", err)
		}
	}
	specs.Events.MaxEntries = cfg.RingBytes
	if cfg.hashEntries != 0 {
		specs.SkStates.MaxEntries = cfg.hashEntries
	}
	if cfg.slots != 0 {
		if cfg.slots&(cfg.slots-1) != 0 {
			return fail("sizing sk_slots", fmt.Errorf("%d slots: not a power of two", cfg.slots))
		}
		specs.SkSlots.MaxEntries = cfg.slots
	}
	if err := specs.SlotMask.Set(specs.SkSlots.MaxEntries - 1); err != nil {
		return fail("setting slot_mask", err)
	}

	// Maps first, alone, so that each program can then be loaded (and
	// fail) on its own against the same maps. LoadAndAssign loads only
	// what it is asked for: here the four maps, and below one program and
	// its own copy of the settings (.rodata), which goes with it. (Through
	// NewCollection the settings would also be mapped into memory for
	// Variables, which cilium/ebpf unmaps only when they are garbage
	// collected: the map would outlive Close.)
	opts := &ebpf.CollectionOptions{Cache: btf.NewCache()}
	var m tracerMaps
	if err := spec.LoadAndAssign(&m, opts); err != nil {
		return fail("creating maps", explain(err))
	}
	t.own(&m)
	t.counters = m.Counters
	t.removedCgroups = m.RemovedCgroups
	t.slots, t.states, t.accSlots = m.SkSlots, m.SkStates, m.AccSlots
	if cfg.CgroupDir != "" {
		if err := setCgroupFilter(m.CgroupFilter, cfg.CgroupDir); err != nil {
			return fail("setting the cgroup filter", err)
		}
	}
	opts.MapReplacements = map[string]*ebpf.Map{
		specs.Counters.Name:       m.Counters,
		specs.Events.Name:         m.Events,
		specs.Handled.Name:        m.Handled,
		specs.SkInfos.Name:        m.SkInfos,
		specs.SkStates.Name:       m.SkStates,
		specs.SkSlots.Name:        m.SkSlots,
		specs.AccSlots.Name:       m.AccSlots,
		specs.Listeners.Name:      m.Listeners,
		specs.CgroupFilter.Name:   m.CgroupFilter,
		specs.RemovedCgroups.Name: m.RemovedCgroups,
		specs.CgroupScratch.Name:  m.CgroupScratch,
		specs.Overflow.Name:       m.Overflow,
	}
	for name := range spec.Maps {
		if _, ok := opts.MapReplacements[name]; !ok && !strings.HasPrefix(name, ".") {
			return fail("creating maps", fmt.Errorf("map %s is not shared between the programs", name))
		}
	}
	if cfg.RunStats {
		if s, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err == nil {
			t.own(s)
		}
	}
	load := func(ps *ebpf.ProgramSpec) (*ebpf.Program, error) {
		one := reflect.New(reflect.StructOf([]reflect.StructField{{
			Name: "Program",
			Type: reflect.TypeFor[*ebpf.Program](),
			Tag:  reflect.StructTag(`ebpf:"` + ps.Name + `"`),
		}}))
		if err := spec.LoadAndAssign(one.Interface(), opts); err != nil {
			if ps.Type == ebpf.LSM && errors.Is(err, unix.EPERM) {
				return nil, errNoTrampolines
			}
			return nil, explain(err)
		}
		return one.Elem().Field(0).Interface().(*ebpf.Program), nil
	}
	table := hookTable(&specs.tracerProgramSpecs, cfg.TracefsDir, ensureTracefs(cfg.TracefsDir))
	stateOK, skipped := t.attachBest(table, roleState, load)
	var skippedAccept []skippedHook
	if cfg.SkipAccept {
		t.skipRole(table, roleAccept)
	} else {
		_, skippedAccept = t.attachBest(table, roleAccept, load)
	}
	t.attachBest(table, roleCgroup, load)
	t.netns, t.endsOnly = cfg.NetNS, cfg.EndsOnly
	if t.keepsSocketState() {
		t.attachBest(table, roleEnd, load)
		// The sweep's way to free a gone socket's slot (kept.go); without
		// it the sweep still reports the socket, and remembers it.
		if p, err := load(specs.ForgetKept); err == nil {
			t.forgetProg = p
			t.own(p)
		} else {
			t.forgetErr = err
		}
	}
	if cfg.ProbeAll {
		t.probe(append(skipped, skippedAccept...), load)
	}
	if !stateOK {
		for _, st := range t.Hooks {
			if st.Role == roleState && st.Err != nil {
				return &LoadError{Op: "attaching " + st.Name, Err: st.Err, Hooks: t.Hooks, noHook: true}
			}
		}
		return &LoadError{Op: "attaching a state-change hook", Err: ErrNoHook, Hooks: t.Hooks}
	}
	t.reader, err = ringbuf.NewReader(m.Events)
	if err != nil {
		return fail("opening the ring buffer", err)
	}
	t.own(t.reader)
	// Reads never wait (a deadline in the past); Run waits in the poller.
	t.reader.SetDeadline(time.Unix(1, 0))
	if t.waiter, err = newRingWaiter(m.Events); err != nil {
		return fail("polling the ring buffer", err)
	}
	t.own(t.waiter)
	return nil
}

// skippedHook is a hook not needed because a better one of its role
// attached, and where its outcome is recorded in Tracer.Hooks.
type skippedHook struct {
	h      hook
	status int
}

// attachBest attaches the first group of the role whose hooks all attach,
// records every hook's outcome in t.Hooks and reports whether one did and
// which hooks it skipped.
func (t *Tracer) attachBest(table []hook, role string, load func(*ebpf.ProgramSpec) (*ebpf.Program, error)) (bool, []skippedHook) {
	done := false
	var skipped []skippedHook
	for start := 0; start < len(table); {
		end := start + 1
		for end < len(table) && table[end].role == table[start].role && table[end].group == table[start].group {
			end++
		}
		group := table[start:end]
		start = end
		if group[0].role != role {
			continue
		}
		if done {
			for _, h := range group {
				skipped = append(skipped, skippedHook{h, len(t.Hooks)})
				t.Hooks = append(t.Hooks, HookStatus{Name: h.name, Role: h.role, Skipped: true, Fix: h.fix})
			}
			continue
		}
		done = t.attachGroup(group, load)
	}
	return done, skipped
}

// keepsSocketState says whether the state programs that attached keep
// per-socket state (tp_btf): only then can the end hook find a socket whose
// -> CLOSE they missed.
func (t *Tracer) keepsSocketState() bool {
	for _, st := range t.Hooks {
		if st.Role == roleState && st.Attached && strings.HasPrefix(st.Name, "tp_btf/") {
			return true
		}
	}
	return false
}

// skipRole records every hook of a role as not attached, by request.
func (t *Tracer) skipRole(table []hook, role string) {
	for _, h := range table {
		if h.role == role {
			t.Hooks = append(t.Hooks, HookStatus{Name: h.name, Role: h.role, Err: ErrSkipped, Fix: "do not set Config.SkipAccept"})
		}
	}
}

// attachGroup attaches every hook of a group, or none: when one fails,
// those already attached are detached again, so that a fallback group
// never doubles the events.
func (t *Tracer) attachGroup(group []hook, load func(*ebpf.ProgramSpec) (*ebpf.Program, error)) bool {
	first := len(t.Hooks)
	var made []io.Closer
	var progs []loaded
	var failed error
	for _, h := range group {
		st := HookStatus{Name: h.name, Role: h.role, Fix: h.fix}
		if h.need != nil {
			if why := h.need(); why != "" {
				st.NotNeeded = why
				t.Hooks = append(t.Hooks, st)
				continue
			}
		}
		if failed != nil {
			st.Err = fmt.Errorf("not tried: %w", failed)
			t.Hooks = append(t.Hooks, st)
			continue
		}
		p, l, err := attachOne(h, load)
		if err != nil {
			st.Err = err
			failed = fmt.Errorf("%s: %w", h.name, err)
		} else {
			st.Attached = true
			made = append(made, p, l)
			progs = append(progs, loaded{prog: p, loss: h.loss})
		}
		t.Hooks = append(t.Hooks, st)
	}
	if failed == nil {
		t.owned = append(t.owned, made...)
		t.progs = append(t.progs, progs...)
		return true
	}
	for i := len(made) - 1; i >= 0; i-- {
		made[i].Close()
	}
	for i := first; i < len(t.Hooks); i++ {
		if t.Hooks[i].Attached {
			t.Hooks[i].Attached = false
			t.Hooks[i].Err = fmt.Errorf("detached again: %w", failed)
		}
	}
	return false
}

// attachOne loads a hook's program and attaches it.
func attachOne(h hook, load func(*ebpf.ProgramSpec) (*ebpf.Program, error)) (*ebpf.Program, link.Link, error) {
	if h.prog == nil {
		return nil, nil, errors.New("program missing from the BPF object")
	}
	p, err := load(h.prog)
	if err != nil {
		return nil, nil, err
	}
	l, err := h.attach(p)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, l, nil
}

// probe tries each skipped hook once, after the preferred ones are
// attached (so the two never double up), detaching it again at once.
func (t *Tracer) probe(skipped []skippedHook, load func(*ebpf.ProgramSpec) (*ebpf.Program, error)) {
	for _, s := range skipped {
		p, l, err := attachOne(s.h, load)
		if err == nil {
			l.Close()
			p.Close()
			t.Hooks[s.status].Works = true
		}
		t.Hooks[s.status].Err = err
	}
}

// setCgroupFilter puts the cgroup v2 directory dir in the filter map: the
// map keeps its own reference, so the descriptor is closed at once.
func setCgroupFilter(m *ebpf.Map, dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	return m.Update(uint32(0), uint32(fd), ebpf.UpdateAny)
}

// RemovedCgroupPath is the path (relative to the cgroup2 root as the
// remover saw it) of a cgroup v2 id removed while the tracer ran, if the
// tp_btf/cgroup_rmdir hook attached and remembers it.
func (t *Tracer) RemovedCgroupPath(id uint64) (string, bool) {
	if t == nil || t.removedCgroups == nil {
		return "", false
	}
	var v [512]byte
	if err := t.removedCgroups.Lookup(id, &v); err != nil {
		return "", false
	}
	n := 0
	for n < len(v) && v[n] != 0 {
		n++
	}
	return string(v[:n]), true
}
