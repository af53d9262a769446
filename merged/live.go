package merged

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Live runs a tracer in the background and keeps its connection table
// current, for views that refresh (netstat -c, watch, timewait). It is safe
// for concurrent use.
type Live struct {
	tr    *tracer.Tracer
	mu    sync.Mutex
	table *Table
	// opens and closes count connections seen to start and end,
	// failures the ones that ended before they were established.
	opens, closes, failures atomic.Uint64
	stop                    chan struct{}
	done                    chan struct{}
	// drainedAt is a monotonic time before which every event submitted to
	// the ring buffer has been applied; lastTs the newest event applied.
	drainedAt, lastTs atomic.Uint64
	// name, if set, gives each event's owner its identity.
	name func(*conn.Process)
	// sweepFail is the last sweep's failure, nil when it worked;
	// sweepRuns counts the runs of failures (the reader's goroutine only).
	sweepFail atomic.Pointer[SweepFailure]
	sweepRuns uint64
}

// StartLive opens the tracer and starts folding its events into a table.
// With ghosts, closed connections are kept for TakeGhosts (-c --recent);
// without, only those that closed into TIME_WAIT, for their sockets'
// owners. name, if not nil, is called on each event's owner before it is
// applied: identities are resolved at first sight, while the owner's
// cgroup still exists. On error the hook outcomes (if any) still describe
// what failed.
func StartLive(cfg tracer.Config, ghosts bool, name func(*conn.Process)) (*Live, []tracer.HookStatus, error) {
	tr, err := tracer.Open(cfg)
	if err != nil {
		return nil, tracer.HooksOf(err), err
	}
	l := &Live{tr: tr, table: NewTable(TableConfig{TimeWaitOnly: !ghosts}), stop: make(chan struct{}), done: make(chan struct{}), name: name}
	go l.run()
	return l, tr.Hooks, nil
}

func (l *Live) run() {
	defer close(l.done)
	lastExpire := time.Now()
	// The sockets whose end no program saw (tracer.Tracer.Sweep), swept
	// while the reader has nothing else to do (a view of every namespace
	// is not swept). A failed sweep is tried again a period later; the
	// views say when a run of failures begins (SweepFailing, SweepNotes).
	sweeper := NewSweeper(l.tr, tracer.MonotonicNow())
	defer sweeper.Close()
	idle := func(before uint64) {
		l.drainedAt.Store(before)
		if sweeper.Due(before) {
			evs, err := sweeper.Sweep(before, false)
			l.noteSweep(err)
			l.applyAll(evs, nil)
		}
	}
	// Nothing to do while nothing happens: the reader wakes for a batch
	// of events, for Sync's flush, or at the poll. A 1 ms poll here kept a
	// whole core busy on an idle machine (15,000 epoll_pwait calls a
	// second).
	l.tr.Run(l.stop, livePoll, idle, func(evs []tracer.Event) {
		l.applyAll(evs, func() {
			if time.Since(lastExpire) > 5*time.Second {
				l.table.Expire(tracer.MonotonicNow())
				lastExpire = time.Now()
			}
		})
		l.lastTs.Store(evs[len(evs)-1].TimeNs)
	})
}

// applyAll names the events' owners and folds the events into the table,
// then runs also, under the table's lock.
func (l *Live) applyAll(evs []tracer.Event, also func()) {
	if len(evs) == 0 {
		return
	}
	if l.name != nil {
		for i := range evs {
			l.name(&evs[i].Owner)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range evs {
		l.apply(&evs[i])
	}
	if also != nil {
		also()
	}
}

// apply folds one event into the table and the counts; l.mu is held.
func (l *Live) apply(ev *tracer.Event) {
	tr, ok := l.table.Apply(ev)
	if !ok {
		return
	}
	if tr.OldState == conn.TCPClose && (tr.NewState == conn.TCPSynSent || tr.NewState == conn.TCPSynRecv) ||
		tr.OldState == conn.TCPListen && tr.NewState == conn.TCPSynRecv {
		l.opens.Add(1)
	}
	if tr.NewlyDone && !tr.Conn.Listener {
		l.closes.Add(1)
	}
	if tr.NewState == conn.TCPClose && (tr.OldState == conn.TCPSynSent || tr.OldState == conn.TCPSynRecv) {
		l.failures.Add(1)
	}
}

// livePoll bounds how long events below the ring buffer's wake-up batch
// wait when no view asks for them.
const livePoll = 250 * time.Millisecond

// Sync waits (at most 300 ms) until the events of everything that
// happened before targetNs (monotonic) are in the table: it asks the
// reader to catch up at once instead of waiting for its next poll.
func (l *Live) Sync(targetNs uint64) {
	if l.synced(targetNs) {
		return
	}
	l.tr.Flush()
	deadline := time.Now().Add(300 * time.Millisecond)
	for !l.synced(targetNs) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func (l *Live) synced(targetNs uint64) bool {
	return l.drainedAt.Load() >= targetNs || l.lastTs.Load() >= targetNs+1e6
}

// Close stops the reader and detaches the programs; safe to call twice.
func (l *Live) Close() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
		l.tr.Flush()
	}
	<-l.done
	return l.tr.Close()
}

// Counters reads the tracer's loss counters.
func (l *Live) Counters() (tracer.Counters, error) { return l.tr.Counters() }

// RemovedCgroupPath is the tracer's path of a removed cgroup id.
func (l *Live) RemovedCgroupPath(id uint64) (string, bool) { return l.tr.RemovedCgroupPath(id) }

// Rates returns the number of connections opened and closed so far.
func (l *Live) Rates() (opens, closes uint64) { return l.opens.Load(), l.closes.Load() }

// Failures counts the connections that closed before they were
// established (refused, timed out, reset during the handshake).
func (l *Live) Failures() uint64 { return l.failures.Load() }

// ByTuple returns a copy of the connection with a 4-tuple.
func (l *Live) ByTuple(local, remote netip.AddrPort) (conn.Conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.table.ByTuple(local, remote)
}

// ByCookie returns a copy of the connection with a socket cookie.
func (l *Live) ByCookie(cookie uint64) (conn.Conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.table.Get(cookie)
}
