package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Config is what Run needs.
type Config struct {
	// NetNS is the network namespace inode the tracer watches (0: all).
	NetNS uint32
	// Snap takes the periodic snapshots (TIME_WAIT owners, ephemeral
	// ports); nil takes none.
	Snap *Snapshotter
	// SnapshotInterval is the time between two snapshots.
	SnapshotInterval time.Duration
	// RingBytes is the ring buffer's size (0: the tracer's default).
	RingBytes uint32
	// MaxConns bounds the connection table.
	MaxConns int
	// Audit and Metrics are set by SetOutputs before Run.
	Audit   *AuditLog
	Metrics *Metrics
	// Stderr gets the start line, write errors and loss lines.
	Stderr io.Writer
}

// Agent is a running agent: the tracer, its table and what it feeds.
type Agent struct {
	cfg     Config
	tr      *tracer.Tracer
	mu      sync.Mutex // guards table and stream
	table   *merged.Table
	started time.Time
	// alive is the monotonic time of the loop's last turn, for /healthz.
	alive atomic.Int64
	// counters is the newest tracer counters read by the loop.
	counters atomic.Pointer[tracer.Counters]
	// swept holds the sweep's records (tracer.SweepRound), made with each
	// snapshot, for the loop, which sweptReady wakes.
	sweptMu    sync.Mutex
	swept      []tracer.Event
	sweptReady chan struct{}
}

// takeSwept gives the sweep's records not yet taken.
func (a *Agent) takeSwept() []tracer.Event {
	a.sweptMu.Lock()
	defer a.sweptMu.Unlock()
	evs := a.swept
	a.swept = nil
	return evs
}

// Start opens the tracer. The caller runs Run and then Close.
func Start(cfg Config) (*Agent, error) {
	tr, err := tracer.Open(tracer.Config{NetNS: cfg.NetNS, EndsOnly: true, RingBytes: cfg.RingBytes})
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, tr: tr, table: merged.NewTable(merged.TableConfig{MaxConns: cfg.MaxConns}), sweptReady: make(chan struct{}, 1)}
	a.started = time.Now()
	a.alive.Store(a.started.UnixNano())
	return a, nil
}

// SetOutputs gives the agent its audit log and metrics (which need the
// agent's counters, hence after Start).
func (a *Agent) SetOutputs(audit *AuditLog, m *Metrics) {
	a.cfg.Audit, a.cfg.Metrics = audit, m
}

// WallOffsetNs converts the tracer's monotonic times to wall-clock time.
func WallOffsetNs() int64 {
	return time.Now().UnixNano() - int64(tracer.MonotonicNow())
}

// Hooks names the attached hooks, for the start line.
func (a *Agent) Hooks() string {
	var names []string
	for _, h := range a.tr.Hooks {
		if h.Attached {
			names = append(names, h.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Close detaches the programs.
func (a *Agent) Close() error { return a.tr.Close() }

// Healthy reports whether the loop turned within the last few seconds.
func (a *Agent) Healthy() bool {
	return time.Since(time.Unix(0, a.alive.Load())) < 5*time.Second
}

// Counts reads the tracer's counters for a scrape.
func (a *Agent) Counts() Counts {
	c, err := a.tr.Counters()
	if err != nil {
		if p := a.counters.Load(); p != nil {
			c = *p
		}
	}
	return Counts{Events: c.Events, Lost: lostOf(&c)}
}

func lostOf(c *tracer.Counters) map[string]uint64 {
	return map[string]uint64{"ring_full": c.RingFull, "storage_fail": c.StorageFail, "accept_miss": c.AcceptMiss, "recursion": c.RecursionLost}
}

// Lookup answers owner questions from the table: by cookie when the
// query has one, else by 4-tuple.
func (a *Agent) Lookup(q []OwnerQuery) []OwnerAnswer {
	out := make([]OwnerAnswer, len(q))
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range q {
		var c conn.Conn
		var ok bool
		if x.Cookie != 0 {
			c, ok = a.table.Get(x.Cookie)
		} else if x.Local.IsValid() && x.Remote.IsValid() {
			c, ok = a.table.ByTuple(x.Local, x.Remote)
		}
		if ok && !c.Listener {
			out[i] = answerOf(&c)
		}
	}
	return out
}

// Run folds the tracer's events until ctx is done, then drains the ring
// buffer, writes the last records and flushes the audit log.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.cfg
	stream := merged.NewStream(a.table, 0)
	emit := func(t *conn.Transition) {
		if !t.NewlyDone || t.Conn.Listener {
			return
		}
		if err := cfg.Audit.Conn(&t.Conn); err != nil {
			a.writeError(err)
		}
		cfg.Metrics.Closed(&t.Conn)
	}
	push := func(ev *tracer.Event) {
		if ev.Kind == tracer.KindAccept && ev.Cookie != 0 {
			cfg.Metrics.Accepted(ev.Owner.Comm)
		}
		stream.Push(ev, emit)
	}

	stopReading := make(chan struct{})
	pipe := a.tr.Pipe(stopReading, 100*time.Millisecond)
	// One hold of the lock per batch: the snapshot and the owner socket
	// take it between batches.
	pushAll := func(evs []tracer.Event) {
		a.mu.Lock()
		for i := range evs {
			push(&evs[i])
		}
		a.mu.Unlock()
		pipe.Done(evs)
		runtime.Gosched() // see internal/cmd/trace: no 10 ms runs under churn
	}

	snapDone := make(chan struct{})
	snapCtx, stopSnap := context.WithCancel(ctx)
	go func() {
		defer close(snapDone)
		a.snapshots(snapCtx)
	}()
	defer func() { stopSnap(); <-snapDone }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastExpire := tracer.MonotonicNow()
	// The counters are the tracer's own (fresh maps): every loss since
	// Start counts, even one before the first turn of the loop.
	loss := lossWatch{since: a.started, last: map[string]uint64{}}
	var stopErr error
loop:
	for {
		select {
		case evs, ok := <-pipe.C:
			if !ok {
				break loop
			}
			pushAll(evs)
		case <-tick.C:
			a.alive.Store(time.Now().UnixNano())
			now := tracer.MonotonicNow()
			a.mu.Lock()
			stream.Flush(now, emit)
			if now-lastExpire > 5e9 {
				a.table.Expire(now)
				lastExpire = now
			}
			size, ev := a.table.Len(), a.table.Evictions
			a.mu.Unlock()
			cfg.Metrics.Table(size, ev)
			loss.check(a, false)
			if err := cfg.Audit.Flush(); err != nil {
				a.writeError(err)
			}
		case <-a.sweptReady:
			evs := a.takeSwept()
			a.mu.Lock()
			for i := range evs {
				push(&evs[i])
			}
			a.mu.Unlock()
		case <-ctx.Done():
			break loop
		case err := <-pipe.Err:
			stopErr = err
			break loop
		}
	}
	close(stopReading)
	a.tr.Flush()
	for evs := range pipe.C {
		pushAll(evs)
	}
	stopSnap()
	<-snapDone
	a.mu.Lock()
	for _, ev := range a.takeSwept() {
		push(&ev)
	}
	stream.Flush(^uint64(0), emit)
	a.mu.Unlock()
	loss.check(a, true)
	if err := cfg.Audit.Close(); err != nil {
		a.writeError(err)
	}
	recs, errs := cfg.Audit.Stats()
	c := a.Counts()
	fmt.Fprintf(cfg.Stderr, "bpfnetstat: agent stopped: %d events, %d audit records, %d audit write errors, lost: %d (ring buffer full), %d (socket storage), %d (accept unresolved), %d (kernel recursion), %d (user space), %d table evictions\n",
		c.Events, recs, errs, c.Lost["ring_full"], c.Lost["storage_fail"], c.Lost["accept_miss"], c.Lost["recursion"], a.tr.UserDrops(), a.table.Evictions)
	if stopErr != nil && !errors.Is(stopErr, os.ErrClosed) && !errors.Is(stopErr, os.ErrDeadlineExceeded) {
		return fmt.Errorf("reading events: %w", stopErr)
	}
	if errs > 0 {
		return fmt.Errorf("audit log: %d write errors", errs)
	}
	return nil
}

// writeError reports a failed audit write on stderr; Stats counts it.
func (a *Agent) writeError(err error) {
	fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: writing the audit log: %v\n", err)
}

// lossWatch compares the loss counters each second and writes a loss
// record for every increase.
type lossWatch struct {
	since     time.Time
	last      map[string]uint64
	userDrops uint64
}

func (l *lossWatch) check(a *Agent, final bool) {
	c, err := a.tr.Counters()
	if err != nil {
		fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: reading loss counters: %v\n", err)
		return
	}
	a.counters.Store(&c)
	cur := lostOf(&c)
	if final {
		// The reader has stopped: its own count can be read.
		cur["user_space"] = a.tr.UserDrops()
	}
	now := time.Now()
	delta := map[string]uint64{}
	var total uint64
	for k, v := range cur {
		if d := v - l.last[k]; v > l.last[k] {
			delta[k] = d
			total += d
		}
	}
	if total == 0 {
		l.since = now
		return
	}
	if err := a.cfg.Audit.Loss(Loss{From: l.since, To: now, Lost: delta}); err != nil {
		a.writeError(err)
	}
	a.cfg.Metrics.LossRecorded()
	var parts []string
	for _, k := range sortedReasons(delta) {
		parts = append(parts, fmt.Sprintf("%d %s", delta[k], k))
	}
	fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: %d events lost in the last %.1fs: %s\n", total, now.Sub(l.since).Seconds(), strings.Join(parts, ", "))
	l.last, l.since = cur, now
}

// snapCostFactor bounds the snapshots' share of a core: the next one
// starts no sooner than this many times the last one's duration after it
// (20: about 5%), whatever the host (each namespace's dump walks the
// kernel's whole TCP hash, shared by every namespace).
const snapCostFactor = 20

// snapshots runs the periodic snapshot until ctx is done.
func (a *Agent) snapshots(ctx context.Context) {
	if a.cfg.Snap == nil {
		return
	}
	iv := a.cfg.SnapshotInterval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	for {
		d := a.snapshotOnce()
		select {
		case <-ctx.Done():
			return
		case <-time.After(nextSnapshot(iv, d)):
		}
	}
}

// nextSnapshot is the wait after a snapshot that took d: the interval,
// or longer when the snapshot was costly.
func nextSnapshot(iv, d time.Duration) time.Duration {
	return max(iv, snapCostFactor*d)
}

// snapshotOnce takes one snapshot into the gauges and returns how long it
// took.
func (a *Agent) snapshotOnce() time.Duration {
	start := time.Now()
	// The sweep of the tracer's kept states rides on the snapshot's walk
	// of the namespaces: the sockets whose end no program saw.
	round, err := a.tr.BeginSweep(tracer.MonotonicNow())
	if err != nil {
		fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: sweeping the kept socket states: %v\n", err)
	}
	f := newSnapFold(func(netns uint32, local, remote netip.AddrPort) string {
		// One short hold of the lock per TIME_WAIT socket, not one for
		// the whole walk: the event loop keeps going meanwhile.
		a.mu.Lock()
		defer a.mu.Unlock()
		if c, ok := a.table.ByTupleNS(netns, local, remote); ok {
			return c.Owner.Comm
		}
		return ""
	})
	err = a.cfg.Snap.Each(func(ns NS) func(*snapshot.Socket) {
		f.begin(ns)
		if round == nil {
			return f.add
		}
		sweep := round.Visit(ns.Ino)
		return func(s *snapshot.Socket) { f.add(s); sweep(s) }
	})
	if round != nil {
		for _, ino := range a.cfg.Snap.Full() {
			round.Walked(ino)
		}
		evs, err := round.End(false)
		if err != nil {
			fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: sweeping the kept socket states: %v\n", err)
		}
		if len(evs) > 0 {
			a.sweptMu.Lock()
			a.swept = append(a.swept, evs...)
			a.sweptMu.Unlock()
			select {
			case a.sweptReady <- struct{}{}:
			default: // the loop has a wake-up pending
			}
		}
	}
	if err != nil {
		// Each names a lasting failure (a namespace it may not join) once.
		fmt.Fprintf(a.cfg.Stderr, "bpfnetstat: snapshot: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err == nil || f.namespaces > 0 {
		a.cfg.Metrics.SetSnapshot(f.result())
	}
	d := time.Since(start)
	a.cfg.Metrics.SetSnapshotCost(d, a.cfg.Snap.Stats())
	return d
}
