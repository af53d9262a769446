package tracer

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Live runs a tracer in the background and keeps its connection table
// current, for views that refresh (netstat -c, watch, timewait). It is safe
// for concurrent use.
type Live struct {
	tr    *Tracer
	mu    sync.Mutex
	table *Table
	// opens and closes count connections seen to start and end.
	opens, closes atomic.Uint64
	stop          chan struct{}
	done          chan struct{}
}

// StartLive opens the tracer and starts folding its events into a table.
// On error the returned Tracer hooks (if any) still describe what failed.
func StartLive(cfg Config) (*Live, []HookStatus, error) {
	tr, err := Open(cfg)
	if err != nil {
		var hooks []HookStatus
		if tr != nil {
			hooks = tr.Hooks
			tr.Close()
		}
		return nil, hooks, err
	}
	l := &Live{tr: tr, table: NewTable(TableConfig{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, tr.Hooks, nil
}

func (l *Live) run() {
	defer close(l.done)
	var ev Event
	lastExpire := time.Now()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.tr.SetDeadline(time.Now().Add(100 * time.Millisecond))
		err := l.tr.Read(&ev)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return
		}
		l.mu.Lock()
		tr, ok := l.table.Apply(&ev)
		if ok {
			if tr.OldState == stateClose && (tr.NewState == stateSynSent || tr.NewState == stateSynRecv) ||
				tr.OldState == stateListen && tr.NewState == stateSynRecv {
				l.opens.Add(1)
			}
			if tr.NewlyDone && !tr.Conn.Listener {
				l.closes.Add(1)
			}
		}
		if time.Since(lastExpire) > 5*time.Second {
			l.table.Expire(tr.TimeNs)
			lastExpire = time.Now()
		}
		l.mu.Unlock()
	}
}

// Close stops the reader and detaches the programs; safe to call twice.
func (l *Live) Close() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.tr.Close()
}

// Hooks reports the hooks that were probed.
func (l *Live) Hooks() []HookStatus { return l.tr.Hooks }

// Counters reads the tracer's loss counters.
func (l *Live) Counters() (Counters, error) { return l.tr.Counters() }

// Rates returns the number of connections opened and closed so far.
func (l *Live) Rates() (opens, closes uint64) { return l.opens.Load(), l.closes.Load() }

// ByTuple returns a copy of the connection with a 4-tuple.
func (l *Live) ByTuple(local, remote netip.AddrPort) (Conn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.table.ByTuple(local, remote)
	if !ok {
		return Conn{}, false
	}
	return *c, true
}

// Conns returns a copy of every connection in the table.
func (l *Live) Conns() []Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Conn, 0, l.table.Len())
	l.table.Each(func(c *Conn) { out = append(out, *c) })
	return out
}

// ClosedBetween returns the connections that were born after fromNs and
// closed before toNs (monotonic ns): those no snapshot could see.
func (l *Live) ClosedBetween(fromNs, toNs uint64) []Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Conn
	l.table.Each(func(c *Conn) {
		if c.Closed && !c.Listener && c.BirthNs > fromNs && c.CloseNs <= toNs {
			out = append(out, *c)
		}
	})
	return out
}
