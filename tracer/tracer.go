package tracer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
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
	// slots is the size of the per-socket state array (a power of two),
	// hashEntries how many sockets the hash behind it holds before
	// sockets overflow to socket storage (bpf/maps.h); 0 means the BPF
	// object's 16,384 and 65,536. Tests make them small to overflow them.
	slots, hashEntries uint32
	// RunStats enables the kernel's BPF run-time statistics (ns per event).
	RunStats bool
	// EndsOnly asks for one record per socket, at its -> CLOSE, instead of
	// every transition, where the hooks keep per-socket state (tp_btf):
	// for consumers of finished connections (life, the agent). The
	// fallback hooks still send every transition.
	EndsOnly bool
	// AcceptInClose, with EndsOnly, names a server socket's acceptor in its
	// close record instead of a record of its own, one record a connection
	// fewer: for a consumer that needs the acceptor only once the
	// connection is over (life). The agent, whose views and counters need
	// it while the connection is open, keeps the accept records.
	AcceptInClose bool
	// CgroupDir, when set, is a cgroup v2 directory: only sockets whose
	// owner (as recorded at connect, listen, accept or an old socket's
	// close) is in it or below it reach user space; the others are
	// dropped in the kernel. Events of sockets whose owner is not known
	// yet, and those of the fallback hooks, still come: the consumer
	// filters what the kernel could not.
	CgroupDir string
	// ProbeAll also tries the fallback hooks that are not needed, attaching
	// and detaching them at once, so that a report can say which work.
	ProbeAll bool
	// SkipAccept attaches no accept hook, as when none can attach (too few
	// open files, no tracefs and no BTF): the degraded mode in which a
	// server connection keeps its listener's owner. For tests of that mode
	// and for measuring what the accept hook costs.
	SkipAccept bool
}

// ErrSkipped is the error of a hook that Config told Open not to attach.
var ErrSkipped = errors.New("not attached: the configuration skips this role")

// HookStatus is the outcome of probing one hook at start-up.
type HookStatus struct {
	Name     string // e.g. "tp_btf/inet_sock_set_state"
	Role     string // "state" or "accept"
	Attached bool
	Skipped  bool   // not used because a better hook of the role attached
	Works    bool   // with ProbeAll: a skipped hook that did attach
	Err      error  // why it did not attach
	Fix      string // what would make it work
	// NotNeeded says why a hook was left out on this kernel (its group
	// attached without it).
	NotNeeded string
}

// ErrNoHook is returned (wrapped in a *LoadError) when no state-change hook
// could be attached.
var ErrNoHook = errors.New("no usable TCP state-change hook")

// LoadError is why Open failed: what it was doing and the error the kernel
// gave. errors.As reaches the error beneath, e.g. the *ebpf.VerifierError
// with the verifier's log when a program was refused.
type LoadError struct {
	Op    string       // e.g. "creating maps", "attaching tp_btf/sys_exit"
	Err   error        // the cause
	Hooks []HookStatus // each hook's outcome, as far as Open got
	// noHook: every state-change hook failed; Err is the preferred one's.
	noHook bool
}

func (e *LoadError) Error() string {
	msg := "loading tracer objects: " + e.Op + ": " + e.Err.Error()
	if e.noHook {
		msg += " (and every fallback state-change hook failed)"
	}
	return msg
}

func (e *LoadError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoHook) true when no state-change hook attached.
func (e *LoadError) Is(target error) bool { return e.noHook && target == ErrNoHook }

// HooksOf returns the hooks' outcomes that a failed Open recorded, or nil.
func HooksOf(err error) []HookStatus {
	var le *LoadError
	if errors.As(err, &le) {
		return le.Hooks
	}
	return nil
}

// Tracer is a loaded and attached set of BPF programs.
type Tracer struct {
	// Hooks is each hook's outcome, in the order they were tried.
	Hooks []HookStatus
	// userDrops counts events user space could not decode; the reader
	// adds to it while others read it.
	userDrops atomic.Uint64
	// sweptEnds counts the gone sockets Sweep reported (kept.go).
	sweptEnds atomic.Uint64

	counters *ebpf.Map
	// removedCgroups maps removed cgroups' ids to their paths (bpf/cgroup.h).
	removedCgroups *ebpf.Map
	reader         *ringbuf.Reader // never waits: waiter does
	waiter         *ringWaiter
	rec            ringbuf.Record // Read's buffer
	comms          commCache      // Read's task names
	progs          []loaded       // attached programs, in the order they were attached
	// slots and states are the per-socket state's array and hash
	// (bpf/maps.h), for tests to look into.
	slots, states *ebpf.Map
	accSlots      *ebpf.Map // the acceptors waiting for close records (bpf/maps.h), for tests
	// forgetProg drops a gone socket's kept state (kept.go); nil where it
	// did not load. netns and endsOnly are Config's.
	forgetProg *ebpf.Program
	forgetErr  error // why forget_kept did not load
	netns      uint32
	endsOnly   bool
	// swept holds the cookies reported gone whose state forgetProg could
	// not drop, so that they are reported once.
	swept map[uint64]struct{}
	// suspects are the kept sockets the last sweep found gone with no
	// timewait socket, by cookie, with their births (kept.go).
	suspects map[uint64]uint64
	// owned is everything to release, in the order it was made; Close
	// releases it backwards (links before programs before maps).
	owned     []io.Closer
	closeOnce sync.Once
}

// loaded is a program that Open attached.
type loaded struct {
	prog *ebpf.Program
	loss lossRule
}

// lossRule says what a program's recursion misses (runs the kernel
// skipped because another BPF program was running on the CPU) mean.
type lossRule uint8

const (
	// lossAll: each miss is a lost event.
	lossAll lossRule = iota
	// lossRecovered: each miss is a lost event unless a catcher program
	// (lossNone) took it; those are counted in COUNTER_RECOVERED.
	lossRecovered
	// lossNone: a catcher; its misses are not events of its own.
	lossNone
)

func (t *Tracer) own(c io.Closer) { t.owned = append(t.owned, c) }

// closerFunc adapts a Close without a result.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

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

// shortError keeps the verifier's last words as its message and the whole
// *ebpf.VerifierError (with its log) beneath it for errors.As.
type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// explain shortens a load error's message to its gist.
func explain(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return &shortError{msg: strings.TrimSpace(fmt.Sprintf("%v", ve.Cause)), err: err}
	}
	return err
}

// Read takes the next event without waiting: os.ErrDeadlineExceeded when
// the ring buffer is empty, os.ErrClosed after Close.
func (t *Tracer) Read(ev *Event) error {
	for {
		// One record buffer, reused: a new one per event was most of
		// the reader's garbage under churn.
		err := t.reader.ReadInto(&t.rec)
		if err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return os.ErrClosed
			}
			return err
		}
		if err := t.comms.decode(t.rec.RawSample, ev); err != nil {
			t.userDrops.Add(1)
			continue
		}
		return nil
	}
}

// runBatch is the most events Run hands over at once.
const runBatch = 256

// Run reads events and hands them to fn in batches (at most runBatch; fn
// must not keep the slice) until stop is closed; then it drains what the
// ring buffer already holds and returns nil (or the first read error).
// Events below the wake-up batch are only seen at the next poll or Flush,
// so poll bounds their delay; whoever closes stop should call Flush too,
// or the stop is noticed only at the next poll. idle, if not nil, is
// called whenever the reader found the ring empty, with the monotonic time
// that drain began: every event submitted before it has been passed to fn.
//
// It drains without waiting, then waits for a wake-up (ringWaiter): one
// wait per batch of wake-up size, not a clock read, a deadline and a
// hand-over per event, which under churn cost more than decoding.
func (t *Tracer) Run(stop <-chan struct{}, poll time.Duration, idle func(beforeNs uint64), fn func([]Event)) error {
	batch := make([]Event, runBatch)
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
		n := 0
		for {
			err := t.Read(&batch[n])
			if err == nil {
				if n++; n == len(batch) {
					fn(batch)
					n = 0
				}
				continue
			}
			if n > 0 {
				fn(batch[:n])
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			break // the ring is empty
		}
		if idle != nil {
			idle(before)
		}
		if stopping {
			return nil
		}
		if err := t.waiter.wait(time.Now().Add(poll)); err != nil {
			return err
		}
	}
}

// Pipe runs Run on a goroutine of its own and passes the batches over a
// channel, for a consumer whose loop also waits for other things. The
// batches come from a small pool: a slow consumer makes the reader wait,
// and the ring buffer, not memory, absorbs the difference (a loss the BPF
// side counts).
type Pipe struct {
	// C gives the batches in order; it is closed when the reader stops.
	C <-chan []Event
	// Err gives the read error that stopped the reader, if one did.
	Err  <-chan error
	free chan []Event
}

// pipeBatches is the number of batches a Pipe holds in flight.
const pipeBatches = 16

// Pipe starts reading; closing stop (then calling Flush) ends it after a
// drain, and C is closed.
func (t *Tracer) Pipe(stop <-chan struct{}, poll time.Duration) *Pipe {
	c := make(chan []Event, pipeBatches)
	errc := make(chan error, 1)
	p := &Pipe{C: c, Err: errc, free: make(chan []Event, pipeBatches)}
	for i := 0; i < pipeBatches; i++ {
		p.free <- make([]Event, 0, runBatch)
	}
	go func() {
		defer close(c)
		err := t.Run(stop, poll, nil, func(evs []Event) {
			b := <-p.free
			c <- append(b[:0], evs...)
		})
		if err != nil {
			errc <- err
		}
	}()
	return p
}

// Done gives a batch received from C back to the pool.
func (p *Pipe) Done(b []Event) {
	select {
	case p.free <- b:
	default:
	}
}

// Flush makes Run's wait return at once and drain what the ring buffer
// holds: a reader waiting for the next poll can be asked to catch up now.
func (t *Tracer) Flush() error {
	t.waiter.flush()
	return nil
}

// UserDrops is the number of events user space could not decode.
func (t *Tracer) UserDrops() uint64 { return t.userDrops.Load() }

// Counters are the BPF-side activity and loss counts, summed over CPUs.
type Counters struct {
	Events      uint64
	RingFull    uint64 // events lost: the ring buffer was full
	StorageFail uint64 // sockets whose per-socket state could not be stored
	AcceptMiss  uint64 // accepts whose socket could not be resolved
	Recovered   uint64 // state events caught by the catcher programs (nested events)
	EndUnseen   uint64 // sockets freed whose -> CLOSE no state program saw (KindEnd records, the sweep's too)
	// RecursionLost counts state events the kernel ran no state program
	// for: the first program's recursion misses that no catcher recovered
	// (a catcher takes only events the first program skipped, so this is
	// exact), plus the accept programs' misses.
	RecursionLost uint64
}

// counterFields ties each BPF counter (enum counter in bpf/tracer.h) to
// its field; TestCounterFields checks that none is left out.
func counterFields(c *Counters) map[tracerCounter]*uint64 {
	return map[tracerCounter]*uint64{
		tracerCounterCOUNTER_EVENTS:       &c.Events,
		tracerCounterCOUNTER_RINGBUF_FULL: &c.RingFull,
		tracerCounterCOUNTER_STORAGE_FAIL: &c.StorageFail,
		tracerCounterCOUNTER_ACCEPT_MISS:  &c.AcceptMiss,
		tracerCounterCOUNTER_RECOVERED:    &c.Recovered,
		tracerCounterCOUNTER_END_UNSEEN:   &c.EndUnseen,
	}
}

// Counters reads the loss counters.
//
// The programs' misses are read before the recoveries: the kernel counts a
// miss before the catcher that recovers it runs, so a nested event that
// comes between the two reads can only make the recoveries ahead (a loss
// reported late, at the next read), never the misses (a loss reported
// that was not one).
func (t *Tracer) Counters() (Counters, error) {
	var c Counters
	var missed uint64
	for _, p := range t.progs {
		st, err := p.prog.Stats()
		if err != nil {
			continue
		}
		switch p.loss {
		case lossAll:
			c.RecursionLost += st.RecursionMisses
		case lossRecovered:
			missed += st.RecursionMisses
		}
	}
	for idx, dst := range counterFields(&c) {
		var per []uint64
		if err := t.counters.Lookup(uint32(idx), &per); err != nil {
			return c, fmt.Errorf("reading counter %d: %w", idx, err)
		}
		for _, v := range per {
			*dst += v
		}
	}
	c.EndUnseen += t.sweptEnds.Load()
	if missed > c.Recovered {
		c.RecursionLost += missed - c.Recovered
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
	for _, lp := range t.progs {
		p := lp.prog
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
// call more than once, and on a nil Tracer.
func (t *Tracer) Close() error {
	if t == nil {
		return nil
	}
	t.closeOnce.Do(t.release)
	return nil
}

// release frees what was made, newest first.
func (t *Tracer) release() {
	for i := len(t.owned) - 1; i >= 0; i-- {
		t.owned[i].Close()
	}
	t.owned = nil
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

// UnsupportedArchError is why the tracer does not load on an architecture
// it has no programs for. It matches errors.ErrUnsupported.
type UnsupportedArchError struct {
	Arch string // runtime.GOARCH
}

func (e *UnsupportedArchError) Error() string {
	return "no BPF programs for " + e.Arch + " (the tracer is built for amd64 and arm64)"
}

func (e *UnsupportedArchError) Is(target error) bool { return target == errors.ErrUnsupported }

// SweepMinAge is how old a kept socket must be for a sweep to take its
// absence from the socket table for its end: a connecting socket enters
// SYN_SENT a moment (microseconds; longer while the kernel looks for a
// free port) before the kernel puts it in its hash tables, where a dump
// would see it. A final sweep, as the tracer stops, takes SweepFinalMinAge
// (the last connections before the stop are that young). A timewait socket
// in the table needs no age: its full socket is gone.
const (
	SweepMinAge      = 500 * time.Millisecond
	SweepFinalMinAge = 50 * time.Millisecond
)

// ErrSweepAllNetNS: Sweep judges only a tracer that watches one network
// namespace, whose socket table one dump gives.
var ErrSweepAllNetNS = errors.New("the sweep needs a tracer that watches one network namespace")
