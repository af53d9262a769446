package merged

import (
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Stream turns raw events into attributed transitions. A server socket's
// early transitions (LISTEN -> SYN_RECV -> ESTABLISHED, all in softirq) are
// held back until accept() names the process that takes the connection, so
// that even the first lines of a connection carry its real owner. A held
// connection that is never accepted is released after the hold time (or at
// close) with the listener's owner, marked as such.
//
// A client's CLOSE -> SYN_SENT is held too, until its next transition: the
// kernel picks the local port only after that tracepoint (tcp_v4_connect
// calls inet_hash_connect after tcp_set_state), so the line waits for the
// port the SYNs carry, however long the connect takes.
type Stream struct {
	Table *Table
	// HoldNs is how long a passive connection waits for its accept.
	HoldNs uint64
	// NoAccept is set when no accept hook is attached: nothing will name
	// a server connection's acceptor, so its transitions are not held
	// for one (they keep the listener's owner, marked as such).
	NoAccept bool
	pending  map[uint64]*held
	order    []uint64
	// tr and c are Push's transition and connection, reused: emit takes
	// a pointer, which would otherwise move each to the heap, per event.
	tr conn.Transition
	c  conn.Conn
}

type held struct {
	since uint64
	trs   []conn.Transition
}

// NewStream returns a stream over a table.
func NewStream(t *Table, holdNs uint64) *Stream {
	if holdNs == 0 {
		holdNs = 250e6
	}
	return &Stream{Table: t, HoldNs: holdNs, pending: make(map[uint64]*held)}
}

// waitingForAccept reports whether a connection's owner may still change
// to its acceptor.
func waitingForAccept(c *conn.Conn) bool {
	return c.Direction == conn.DirPassive && trust(c.OwnerSource) < trust(conn.OwnerAccept) && c.OwnerSource != conn.OwnerSnapshot
}

// waitingForPort reports whether a connection's local port is still to
// be learnt: a connect whose first transition came before the kernel
// chose its port.
func waitingForPort(c *conn.Conn) bool {
	return c.Direction == conn.DirActive && c.Local.Port() == 0 && !c.Closed
}

func (s *Stream) waiting(c *conn.Conn) bool {
	return !s.NoAccept && waitingForAccept(c) || waitingForPort(c)
}

// Push folds one event in and emits the transitions that are ready, in
// order. emit must not keep the pointer it is given.
func (s *Stream) Push(ev *tracer.Event, emit func(*conn.Transition)) {
	var ok, known bool
	s.tr, ok = s.Table.Apply(ev)
	h := s.pending[ev.Cookie]
	if !ok && h == nil {
		return // an accept, nothing held for it: nothing to emit
	}
	s.c, known = s.Table.Get(ev.Cookie)
	tr, c := &s.tr, &s.c
	if !known {
		// Closed and forgotten (Table.DropClosed), or no room: what is
		// held goes out now, in order, with the owner it has.
		if h != nil {
			if ok {
				h.trs = append(h.trs, *tr)
			}
			last := h.trs[len(h.trs)-1].Conn
			s.release(ev.Cookie, &last, emit)
		} else if ok {
			emit(tr)
		}
		return
	}
	if ok {
		if h == nil && s.waiting(c) {
			h = &held{since: ev.TimeNs}
			s.pending[ev.Cookie] = h
			s.order = append(s.order, ev.Cookie)
		}
		if h != nil {
			h.trs = append(h.trs, *tr)
		} else {
			emit(tr)
		}
	}
	if h != nil && !s.waiting(c) {
		s.release(ev.Cookie, c, emit)
	}
}

// release emits a held connection's transitions with its current owner.
func (s *Stream) release(cookie uint64, c *conn.Conn, emit func(*conn.Transition)) {
	h := s.pending[cookie]
	if h == nil {
		return
	}
	delete(s.pending, cookie)
	for i := range h.trs {
		tr := &h.trs[i]
		tr.Conn.Owner, tr.Conn.OwnerSource = c.Owner, c.OwnerSource
		if tr.Conn.Local.Port() == 0 && c.Local.Port() != 0 {
			tr.Conn.Local = c.Local
		}
		emit(tr)
	}
}

// Flush releases connections held longer than the hold time (all of them
// when nowNs is ^0), in the order they were first held; a connect still
// waiting for its port stays held until its next transition.
func (s *Stream) Flush(nowNs uint64, emit func(*conn.Transition)) {
	keep := s.order[:0]
	for _, cookie := range s.order {
		h, ok := s.pending[cookie]
		if !ok {
			continue
		}
		c, ok := s.Table.Get(cookie)
		if !ok {
			c = h.trs[len(h.trs)-1].Conn
		}
		if nowNs == ^uint64(0) || nowNs-h.since >= s.HoldNs && !waitingForPort(&c) {
			s.release(cookie, &c, emit)
			continue
		}
		keep = append(keep, cookie)
	}
	s.order = keep
}

// Pending is the number of connections held back.
func (s *Stream) Pending() int { return len(s.pending) }
