package tracer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Config chooses what the tracer watches.
type Config struct {
	// NetNS is the network namespace inode to watch; 0 watches all.
	NetNS uint32
	// RingBytes is the ring buffer size (a power of two, multiple of the
	// page size); 0 means the default, 8 MiB.
	RingBytes uint32
	// TracefsDir is where tracefs is (or gets) mounted.
	TracefsDir string
	// RunStats enables the kernel's BPF run-time statistics (ns per event).
	RunStats bool
	// ProbeAll also tries the fallback hooks that are not needed, attaching
	// and detaching them at once, so that a report can say which work.
	ProbeAll bool
}

// HookStatus is the outcome of probing one hook at start-up.
type HookStatus struct {
	Name     string // e.g. "tp_btf/inet_sock_set_state"
	Role     string // "state" or "accept"
	Attached bool
	Skipped  bool   // not used because a better hook of the role attached
	Works    bool   // with ProbeAll: a skipped hook that did attach
	Err      error  // why it did not attach
	Fix      string // what would make it work
}

// Tracer is a loaded and attached set of BPF programs.
type Tracer struct {
	objs   tracerMaps
	vars   *ebpf.Collection
	progs  []*ebpf.Program
	byName map[string]*ebpf.Program
	links  []link.Link
	reader *ringbuf.Reader
	stats  interface{ Close() error }
	Hooks  []HookStatus

	closeOnce sync.Once
	// UserDrops counts events user space could not decode.
	UserDrops uint64
}

// ErrNoHook is returned when no state-change hook could be attached.
var ErrNoHook = errors.New("no usable TCP state-change hook")

// Open loads the programs and attaches the best hook of each role, probing
// every hook for real and recording why the others did not work.
func Open(cfg Config) (*Tracer, error) {
	if cfg.RingBytes == 0 {
		cfg.RingBytes = 8 << 20
	}
	if cfg.TracefsDir == "" {
		cfg.TracefsDir = "/sys/kernel/tracing"
	}
	raiseMemlock()
	spec, err := loadTracer()
	if err != nil {
		return nil, fmt.Errorf("loading the BPF object: %w", err)
	}
	if err := spec.Variables["target_netns"].Set(cfg.NetNS); err != nil {
		return nil, fmt.Errorf("setting target_netns: %w", err)
	}
	pidnsIno, initialPIDNS, err := OwnPIDNamespace()
	if err != nil {
		return nil, fmt.Errorf("finding bpfnetstat's PID namespace: %w", err)
	}
	if !initialPIDNS {
		if err := spec.Variables["pidns_ino"].Set(pidnsIno); err != nil {
			return nil, fmt.Errorf("setting pidns_ino: %w", err)
		}
	}
	spec.Maps["events"].MaxEntries = cfg.RingBytes

	// Maps first, alone, so that each program can then be loaded (and
	// fail) on its own against the same maps.
	mapSpec := spec.Copy()
	mapSpec.Programs = map[string]*ebpf.ProgramSpec{}
	coll, err := ebpf.NewCollection(mapSpec)
	if err != nil {
		return nil, fmt.Errorf("creating BPF maps: %w", explain(err))
	}
	t := &Tracer{vars: coll, byName: map[string]*ebpf.Program{}}
	t.objs = tracerMaps{Counters: coll.Maps["counters"], Events: coll.Maps["events"], SkInfos: coll.Maps["sk_infos"]}
	if cfg.RunStats {
		if s, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME); err == nil {
			t.stats = s
		}
	}

	tracefsErr := ensureTracefs(cfg.TracefsDir)
	load := func(name string) (*ebpf.Program, error) {
		ps := spec.Copy()
		prog := ps.Programs[name]
		ps.Programs = map[string]*ebpf.ProgramSpec{name: prog}
		c, err := ebpf.NewCollectionWithOptions(ps, ebpf.CollectionOptions{MapReplacements: coll.Maps})
		if err != nil {
			return nil, explain(err)
		}
		p := c.Programs[name]
		delete(c.Programs, name)
		c.Close()
		t.progs = append(t.progs, p)
		t.byName[name] = p
		return p, nil
	}
	try := func(role, hook, prog string, attach func(*ebpf.Program) (link.Link, error), fix string) bool {
		st := HookStatus{Name: hook, Role: role, Fix: fix}
		p, err := load(prog)
		if err == nil {
			var l link.Link
			if l, err = attach(p); err == nil {
				t.links = append(t.links, l)
				st.Attached = true
			}
		}
		st.Err = err
		t.Hooks = append(t.Hooks, st)
		return st.Attached
	}
	var probes []func()
	skip := func(role, hook, prog string, attach func(*ebpf.Program) (link.Link, error), fix string) {
		st := HookStatus{Name: hook, Role: role, Skipped: true, Fix: fix}
		i := len(t.Hooks)
		t.Hooks = append(t.Hooks, st)
		if !cfg.ProbeAll {
			return
		}
		// Probed after the preferred hooks, so they never double up.
		probes = append(probes, func() {
			p, err := load(prog)
			if err == nil {
				var l link.Link
				if l, err = attach(p); err == nil {
					l.Close()
					t.Hooks[i].Works = true
				}
			}
			t.Hooks[i].Err = err
		})
	}
	tracing := func(p *ebpf.Program) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: p})
	}
	tracepoint := func(group, name string) func(*ebpf.Program) (link.Link, error) {
		return func(p *ebpf.Program) (link.Link, error) {
			if tracefsErr != nil {
				return nil, tracefsErr
			}
			return link.Tracepoint(group, name, p, nil)
		}
	}

	// State changes: tp_btf, else the classic tracepoint, else a kprobe.
	kprobe := func(p *ebpf.Program) (link.Link, error) { return link.Kprobe("tcp_set_state", p, nil) }
	type hook struct {
		name, prog string
		attach     func(*ebpf.Program) (link.Link, error)
		fix        string
	}
	// firstOf attaches the first hook of a role that works, in order of
	// preference, and records the others as skipped.
	firstOf := func(role string, hooks ...[]hook) bool {
		ok := false
		for _, group := range hooks {
			if ok {
				for _, h := range group {
					skip(role, h.name, h.prog, h.attach, h.fix)
				}
				continue
			}
			all := true
			for _, h := range group {
				if !try(role, h.name, h.prog, h.attach, h.fix) {
					all = false
					break
				}
			}
			ok = all
		}
		return ok
	}
	// State changes: tp_btf, else the classic tracepoint, else a kprobe.
	stateOK := firstOf("state",
		[]hook{
			{"tp_btf/inet_sock_set_state", "set_state_btf", tracing, "needs Linux 5.5+ with BTF (/sys/kernel/btf/vmlinux)"},
			{"tp_btf/inet_sock_set_state (nested events)", "set_state_btf2", tracing, "needs Linux 5.5+ with BTF (/sys/kernel/btf/vmlinux)"},
			{"tp_btf/inet_sock_set_state (nested twice)", "set_state_btf3", tracing, "needs Linux 5.5+ with BTF (/sys/kernel/btf/vmlinux)"},
		},
		[]hook{{"tracepoint/sock/inet_sock_set_state", "set_state_tp", tracepoint("sock", "inet_sock_set_state"), "needs tracefs at " + cfg.TracefsDir + " and Linux 4.16+"}},
		[]hook{{"kprobe/tcp_set_state", "set_state_kprobe", kprobe, "needs a kernel built with CONFIG_KPROBES"}},
	)
	// Accept: the classic syscall tracepoints (cheap), else tp_btf/sys_exit.
	firstOf("accept",
		[]hook{
			{"tracepoint/syscalls/sys_exit_accept4", "accept4_exit", tracepoint("syscalls", "sys_exit_accept4"), "needs tracefs at " + cfg.TracefsDir},
			{"tracepoint/syscalls/sys_exit_accept", "accept_exit", tracepoint("syscalls", "sys_exit_accept"), "needs tracefs at " + cfg.TracefsDir},
		},
		[]hook{{"tp_btf/sys_exit", "sys_exit_btf", tracing, "needs Linux 5.5+ with BTF"}},
	)
	for _, p := range probes {
		p()
	}
	if !stateOK {
		t.Close()
		return t, ErrNoHook
	}
	t.reader, err = ringbuf.NewReader(t.objs.Events)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("opening the ring buffer: %w", err)
	}
	return t, nil
}

// ensureTracefs mounts tracefs at dir when it is not there and we may.
func ensureTracefs(dir string) error {
	if _, err := os.Stat(dir + "/events"); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("tracefs is not mounted at %s and mounting it needs root", dir)
	}
	if err := unix.Mount("tracefs", dir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs at %s: %w", dir, err)
	}
	return nil
}

// explain shortens the verifier log of a load error to its gist.
func explain(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("%w", errors.New(strings.TrimSpace(fmt.Sprintf("%v", ve.Cause))))
	}
	return err
}

// Read blocks for the next event. It returns ringbuf.ErrClosed (wrapped as
// os.ErrClosed) after Close.
func (t *Tracer) Read(ev *Event) error {
	for {
		rec, err := t.reader.Read()
		if err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return os.ErrClosed
			}
			return err
		}
		if err := decodeEvent(rec.RawSample, ev); err != nil {
			t.UserDrops++
			continue
		}
		return nil
	}
}

// Run reads events and calls fn for each until stop is closed; then it
// drains what the ring buffer already holds and returns nil (or the first
// read error). Events below the wake-up batch are only seen when a read
// times out, so poll bounds their delay and how soon a stop is noticed.
// idle, if not nil, is called after a poll that found the ring empty,
// with the monotonic time the poll began: every event submitted before it
// has been passed to fn.
func (t *Tracer) Run(stop <-chan struct{}, poll time.Duration, idle func(beforeNs uint64), fn func(*Event)) error {
	var ev Event
	stopping := false
	for {
		if !stopping {
			select {
			case <-stop:
				stopping = true
			default:
			}
		}
		before := MonotonicNow()
		if stopping {
			t.SetDeadline(time.Now())
		} else {
			t.SetDeadline(time.Now().Add(poll))
		}
		err := t.Read(&ev)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if stopping {
				return nil
			}
			if idle != nil {
				idle(before)
			}
		case err != nil:
			return err
		default:
			fn(&ev)
		}
	}
}

// SetDeadline makes a blocked Read return os.ErrDeadlineExceeded.
func (t *Tracer) SetDeadline(d time.Time) { t.reader.SetDeadline(d) }

// Counters are the BPF-side activity and loss counts, summed over CPUs.
type Counters struct {
	Events      uint64
	RingFull    uint64 // events lost: the ring buffer was full
	StorageFail uint64 // sockets whose per-socket state could not be stored
	AcceptMiss  uint64 // accepts whose socket could not be resolved
	Recovered   uint64 // state events caught by the catcher programs (nested events)
	// RecursionLost counts state events the kernel ran no state program
	// for: the first program's recursion misses that no catcher recovered
	// (a catcher takes only events the first program skipped, so this is
	// exact), plus the accept programs' misses.
	RecursionLost uint64
}

// Counters reads the loss counters.
func (t *Tracer) Counters() (Counters, error) {
	var c Counters
	dst := []*uint64{&c.Events, &c.RingFull, &c.StorageFail, &c.AcceptMiss, &c.Recovered}
	for i, p := range dst {
		var per []uint64
		if err := t.objs.Counters.Lookup(uint32(i), &per); err != nil {
			return c, fmt.Errorf("reading counter %d: %w", i, err)
		}
		for _, v := range per {
			*p += v
		}
	}
	for _, name := range []string{"set_state_btf", "set_state_tp", "set_state_kprobe"} {
		p := t.byName[name]
		if p == nil {
			continue
		}
		st, err := p.Stats()
		if err != nil {
			continue
		}
		if name != "set_state_btf" {
			c.RecursionLost += st.RecursionMisses
		} else if st.RecursionMisses > c.Recovered {
			c.RecursionLost += st.RecursionMisses - c.Recovered
		}
	}
	for _, name := range []string{"accept4_exit", "accept_exit", "sys_exit_btf"} {
		if p := t.byName[name]; p != nil {
			if st, err := p.Stats(); err == nil {
				c.RecursionLost += st.RecursionMisses
			}
		}
	}
	return c, nil
}

// ProgramStats is the kernel's run-time accounting of one attached program.
type ProgramStats struct {
	Name            string
	RunCount        uint64
	RunTime         time.Duration
	RecursionMisses uint64 // runs skipped: another BPF program was running
}

// Stats returns run counts and times of the loaded programs (zero unless
// Config.RunStats was set and the kernel allowed it).
func (t *Tracer) Stats() []ProgramStats {
	var out []ProgramStats
	for _, p := range t.progs {
		info, err := p.Info()
		if err != nil {
			continue
		}
		s, err := p.Stats()
		if err != nil {
			continue
		}
		out = append(out, ProgramStats{Name: info.Name, RunCount: s.RunCount, RunTime: s.Runtime, RecursionMisses: s.RecursionMisses})
	}
	return out
}

// Close detaches every hook and frees the programs and maps. It is safe to
// call more than once.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() {
		if t.reader != nil {
			t.reader.Close()
		}
		for _, l := range t.links {
			l.Close()
		}
		for _, p := range t.progs {
			p.Close()
		}
		if t.vars != nil {
			t.vars.Close()
		}
		if t.stats != nil {
			t.stats.Close()
		}
	})
	return nil
}

// raiseMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps and programs to (later ones charge the memory cgroup). When it
// cannot, loading says what failed. cilium/ebpf's rlimit package would do
// this, but its init creates a BPF map in every process that links it, and
// the netstat views must make no bpf() call.
func raiseMemlock() {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf)
}
