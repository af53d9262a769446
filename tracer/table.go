package tracer

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TCP states, as the kernel numbers them.
const (
	stateEstablished = 1
	stateSynSent     = 2
	stateSynRecv     = 3
	stateFinWait1    = 4
	stateFinWait2    = 5
	stateTimeWait    = 6
	stateClose       = 7
	stateCloseWait   = 8
	stateLastAck     = 9
	stateListen      = 10
	stateClosing     = 11
)

// Conn is one connection in the table.
type Conn struct {
	Cookie      uint64
	Family      snapshot.Family
	Local       netip.AddrPort
	Remote      netip.AddrPort
	NetNS       uint32
	State       uint8
	Owner       Process
	OwnerSource OwnerSource
	Direction   Direction
	BirthNs     uint64 // monotonic ns; 0 if older than the tracer
	StateNs     uint64 // when it entered State
	Closed      bool
	CloseNs     uint64
	// At close: the application's payload bytes, retransmitted segments,
	// smoothed RTT and, for a failed connect, the socket error.
	TxBytes, RxBytes uint64
	Retransmits      uint32
	SRTTus           uint32
	Err              int32
	// ViaTimeWait is set when the connection closed into TIME_WAIT (so its
	// timewait socket, which keeps the cookie, still stands in the tables).
	ViaTimeWait bool
	// Listener is set for a listening socket (not a connection).
	Listener bool
	// Shown is set once a refreshing view has listed the connection, live
	// or as a ghost row.
	Shown bool

	lastNs uint64
}

// DurationNs is the connection's life from first sight to close (or to nowNs).
func (c *Conn) DurationNs(nowNs uint64) uint64 {
	end := nowNs
	if c.Closed {
		end = c.CloseNs
	}
	if c.BirthNs == 0 || end < c.BirthNs {
		return 0
	}
	return end - c.BirthNs
}

// Transition is a state change with everything a trace line needs.
type Transition struct {
	Conn      Conn // a copy, as of this transition
	OldState  uint8
	NewState  uint8
	TimeNs    uint64
	InOldNs   uint64 // time spent in OldState, 0 if unknown
	CurPID    uint32 // the task that was on the CPU
	NewlyDone bool   // this transition closed the connection
}

// TableConfig bounds the table.
type TableConfig struct {
	// MaxConns caps the number of connections kept; 0 means 65536.
	MaxConns int
	// TimeWaitNs is how long a closed connection is kept for the TIME_WAIT
	// socket that may outlive it; 0 means 60 s (TCP_TIMEWAIT_LEN).
	TimeWaitNs uint64
	// DropClosed forgets a connection as soon as it closes, for consumers
	// that only stream transitions (trace, life) and never look back.
	DropClosed bool
}

// Table is the live connection table, keyed by socket cookie. It is not
// safe for concurrent use.
type Table struct {
	cfg   TableConfig
	conns map[uint64]*Conn
	// Evictions counts connections dropped because the table was full.
	Evictions uint64
	// listeners maps a listening address to its owner, for children of
	// listeners that the tracer did not see start.
	listeners map[netip.AddrPort]Process
	// tuples maps the 4-tuple of sockets seen in a start-up snapshot to
	// their owner, for connections older than the tracer.
	tuples map[[2]netip.AddrPort]Process
	// byTuple finds a connection by its 4-tuple (local, remote), for joining
	// /proc rows, which have no cookie.
	byTuple map[[2]netip.AddrPort]uint64
	// closed holds cookies in the order their connections closed, so that
	// expiry and eviction take the oldest in O(1) (a scan of the whole
	// table per new connection made the tracer fall behind under churn).
	closed     []uint64
	closedHead int
}

// NewTable returns an empty table.
func NewTable(cfg TableConfig) *Table {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 65536
	}
	if cfg.TimeWaitNs == 0 {
		cfg.TimeWaitNs = 60e9
	}
	return &Table{cfg: cfg, conns: make(map[uint64]*Conn), listeners: make(map[netip.AddrPort]Process), tuples: make(map[[2]netip.AddrPort]Process), byTuple: make(map[[2]netip.AddrPort]uint64)}
}

// Len is the number of connections held, closed ones included.
func (t *Table) Len() int { return len(t.conns) }

// Get returns the connection with a cookie.
func (t *Table) Get(cookie uint64) (*Conn, bool) {
	c, ok := t.conns[cookie]
	return c, ok
}

// ByTuple returns the connection with a 4-tuple.
func (t *Table) ByTuple(local, remote netip.AddrPort) (*Conn, bool) {
	cookie, ok := t.byTuple[[2]netip.AddrPort{local, remote}]
	if !ok {
		return nil, false
	}
	return t.Get(cookie)
}

func (t *Table) forget(c *Conn) {
	delete(t.conns, c.Cookie)
	k := [2]netip.AddrPort{c.Local, c.Remote}
	if t.byTuple[k] == c.Cookie {
		delete(t.byTuple, k)
	}
}

// Each calls fn for every connection.
func (t *Table) Each(fn func(*Conn)) {
	for _, c := range t.conns {
		fn(c)
	}
}

// SeedOwner records the owner of a socket that existed before the tracer
// (from /proc or sock_diag), unless a better owner is known.
func (t *Table) SeedOwner(cookie uint64, local, remote netip.AddrPort, state uint8, p Process) {
	c := t.conn(cookie, 0)
	if c == nil {
		return
	}
	if !c.Local.IsValid() {
		c.Local, c.Remote, c.State = local, remote, state
	}
	setOwner(c, p, OwnerSnapshot)
}

// SeedTuple records the owner of a connection seen in a start-up snapshot,
// for joining by 4-tuple when the tracer first sees it.
func (t *Table) SeedTuple(local, remote netip.AddrPort, p Process) {
	t.tuples[[2]netip.AddrPort{local, remote}] = p
}

// SeedListener records the owner of a listening socket seen in a snapshot.
func (t *Table) SeedListener(local netip.AddrPort, p Process) {
	t.listeners[local] = p
}

func setOwner(c *Conn, p Process, src OwnerSource) {
	if src.rank() >= c.OwnerSource.rank() && (src != OwnerNone) {
		c.Owner, c.OwnerSource = p, src
	}
}

func (t *Table) conn(cookie uint64, nowNs uint64) *Conn {
	c, ok := t.conns[cookie]
	if ok {
		return c
	}
	if len(t.conns) >= t.cfg.MaxConns {
		t.Expire(nowNs)
	}
	if len(t.conns) >= t.cfg.MaxConns && !t.evict(nowNs) {
		return nil
	}
	c = &Conn{Cookie: cookie, Direction: DirUnknown}
	t.conns[cookie] = c
	return c
}

// evict makes room: the oldest closed connection, else any one.
func (t *Table) evict(nowNs uint64) bool {
	for t.closedHead < len(t.closed) {
		cookie := t.closed[t.closedHead]
		t.popClosed()
		if c, ok := t.conns[cookie]; ok && c.Closed {
			t.forget(c)
			t.Evictions++
			return true
		}
	}
	for _, c := range t.conns { // no closed one: any, O(1)
		t.forget(c)
		t.Evictions++
		return true
	}
	return false
}

func (t *Table) popClosed() {
	t.closedHead++
	if t.closedHead > 4096 && t.closedHead*2 > len(t.closed) {
		t.closed = append(t.closed[:0], t.closed[t.closedHead:]...)
		t.closedHead = 0
	}
}

// Expire drops closed connections whose TIME_WAIT has surely ended, and
// returns how many it dropped.
func (t *Table) Expire(nowNs uint64) int {
	n := 0
	for t.closedHead < len(t.closed) {
		c, ok := t.conns[t.closed[t.closedHead]]
		if ok && c.Closed && nowNs <= c.CloseNs+t.cfg.TimeWaitNs {
			break
		}
		t.popClosed()
		if ok && c.Closed {
			t.forget(c)
			n++
		}
	}
	return n
}

// Apply folds an event into the table. For a state event it returns the
// transition (ok true); an accept event only updates the owner.
func (t *Table) Apply(ev *Event) (tr Transition, ok bool) {
	if ev.Cookie == 0 {
		return tr, false
	}
	c := t.conn(ev.Cookie, ev.TimeNs)
	if c == nil {
		return tr, false
	}
	c.lastNs = ev.TimeNs
	c.Family = ev.Family
	c.NetNS = ev.NetNS
	// The kernel clears the local port once the socket leaves its hash
	// tables (tcp_done), so keep the first complete tuple seen.
	if ev.Local.Port() != 0 || !c.Local.IsValid() {
		c.Local = ev.Local
	}
	if ev.Remote.Port() != 0 || !c.Remote.IsValid() {
		c.Remote = ev.Remote
	}
	if c.Local.Port() != 0 && c.Remote.Port() != 0 {
		t.byTuple[[2]netip.AddrPort{c.Local, c.Remote}] = c.Cookie
	}
	if ev.Direction != DirUnknown {
		c.Direction = ev.Direction
	}
	if ev.BirthNs != 0 && (c.BirthNs == 0 || ev.Direction != DirUnknown) {
		c.BirthNs = ev.BirthNs
	}
	src := ev.OwnerSource
	if src == OwnerListen && ev.Kind == KindState && ev.NewState != stateListen && ev.OldState != stateListen {
		src = OwnerListener
	}
	setOwner(c, ev.Owner, src)
	if c.OwnerSource.rank() < OwnerSnapshot.rank() {
		if p, ok := t.tuples[[2]netip.AddrPort{c.Local, c.Remote}]; ok {
			setOwner(c, p, OwnerSnapshot)
		}
	}

	if ev.Kind == KindAccept {
		if c.State == 0 {
			c.State = ev.NewState
		}
		return tr, false
	}

	if c.BirthNs == 0 && ev.OldState == stateClose && ev.NewState == stateSynSent {
		c.BirthNs = ev.TimeNs
	}
	if ev.OldState == stateListen && ev.NewState == stateSynRecv {
		c.Direction = DirPassive
		if c.BirthNs == 0 {
			c.BirthNs = ev.TimeNs
		}
		if c.OwnerSource == OwnerNone {
			if p, ok := t.listeners[ev.Local]; ok {
				setOwner(c, p, OwnerListener)
			} else if p, ok := t.listeners[netip.AddrPortFrom(unspecified(ev.Local.Addr()), ev.Local.Port())]; ok {
				setOwner(c, p, OwnerListener)
			}
		}
	}
	if ev.NewState == stateListen {
		c.Listener = true
		t.listeners[ev.Local] = c.Owner
	}

	tr = Transition{OldState: ev.OldState, NewState: ev.NewState, TimeNs: ev.TimeNs, CurPID: ev.CurPID}
	switch {
	case ev.StateNs != 0 && ev.TimeNs >= ev.StateNs:
		tr.InOldNs = ev.TimeNs - ev.StateNs
	case c.StateNs != 0 && ev.TimeNs >= c.StateNs:
		tr.InOldNs = ev.TimeNs - c.StateNs
	}
	c.State = ev.NewState
	c.StateNs = ev.TimeNs
	c.Retransmits = ev.TotalRetrans
	c.SRTTus = ev.SRTTus
	c.TxBytes = ev.BytesSent - min(ev.BytesRetrans, ev.BytesSent)
	c.RxBytes = ev.BytesReceived
	if ev.PeerFin && c.RxBytes > 0 {
		c.RxBytes-- // tcp_fin(): the peer's FIN took one sequence number
	}
	if ev.NewState == stateClose && !c.Closed {
		c.Closed = true
		c.CloseNs = ev.TimeNs
		c.Err = ev.SkErr
		c.ViaTimeWait = ev.OldState == stateFinWait2 || ev.OldState == stateClosing || ev.OldState == stateFinWait1
		tr.NewlyDone = true
		if ev.OldState == stateListen {
			delete(t.listeners, c.Local)
		}
		tr.Conn = *c
		if t.cfg.DropClosed {
			t.forget(c)
		} else {
			t.closed = append(t.closed, c.Cookie)
		}
		return tr, true
	}
	tr.Conn = *c
	return tr, true
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
