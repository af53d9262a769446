package merged

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

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
	conns map[uint64]*conn.Conn
	// Evictions counts connections dropped because the table was full.
	Evictions uint64
	// listeners maps a listening address to its owner, for children of
	// listeners that the tracer did not see start.
	listeners map[netip.AddrPort]conn.Process
	// tuples maps the 4-tuple of sockets seen in a start-up snapshot to
	// their owner, for connections older than the tracer.
	tuples map[[2]netip.AddrPort]conn.Process
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
	return &Table{cfg: cfg, conns: make(map[uint64]*conn.Conn), listeners: make(map[netip.AddrPort]conn.Process), tuples: make(map[[2]netip.AddrPort]conn.Process), byTuple: make(map[[2]netip.AddrPort]uint64)}
}

// Len is the number of connections held, closed ones included.
func (t *Table) Len() int { return len(t.conns) }

// Get returns the connection with a cookie.
func (t *Table) Get(cookie uint64) (*conn.Conn, bool) {
	c, ok := t.conns[cookie]
	return c, ok
}

// ByTuple returns the connection with a 4-tuple.
func (t *Table) ByTuple(local, remote netip.AddrPort) (*conn.Conn, bool) {
	cookie, ok := t.byTuple[[2]netip.AddrPort{local, remote}]
	if !ok {
		return nil, false
	}
	return t.Get(cookie)
}

func (t *Table) forget(c *conn.Conn) {
	delete(t.conns, c.Cookie)
	k := [2]netip.AddrPort{c.Local, c.Remote}
	if t.byTuple[k] == c.Cookie {
		delete(t.byTuple, k)
	}
}

// Each calls fn for every connection.
func (t *Table) Each(fn func(*conn.Conn)) {
	for _, c := range t.conns {
		fn(c)
	}
}

// SeedTuple records the owner of a connection seen in a start-up snapshot,
// for joining by 4-tuple when the tracer first sees it.
func (t *Table) SeedTuple(local, remote netip.AddrPort, p conn.Process) {
	t.tuples[[2]netip.AddrPort{local, remote}] = p
}

// SeedListener records the owner of a listening socket seen in a snapshot.
func (t *Table) SeedListener(local netip.AddrPort, p conn.Process) {
	t.listeners[local] = p
}

// trust orders owner sources: an exact owner is never replaced by a weaker
// guess that arrives later.
func trust(s conn.OwnerSource) int {
	switch s {
	case conn.OwnerConnect, conn.OwnerAccept:
		return 4
	case conn.OwnerSnapshot:
		return 3
	case conn.OwnerClose:
		return 2
	case conn.OwnerListener, conn.OwnerListen:
		return 1
	}
	return 0
}

func setOwner(c *conn.Conn, p conn.Process, src conn.OwnerSource) {
	if trust(src) >= trust(c.OwnerSource) && (src != conn.OwnerNone) {
		c.Owner, c.OwnerSource = p, src
	}
}

func (t *Table) conn(cookie uint64, nowNs uint64) *conn.Conn {
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
	c = &conn.Conn{Cookie: cookie, Direction: conn.DirUnknown}
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
func (t *Table) Apply(ev *tracer.Event) (tr conn.Transition, ok bool) {
	if ev.Cookie == 0 {
		return tr, false
	}
	c := t.conn(ev.Cookie, ev.TimeNs)
	if c == nil {
		return tr, false
	}
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
	if ev.Direction != conn.DirUnknown {
		c.Direction = ev.Direction
	}
	if ev.BirthNs != 0 && (c.BirthNs == 0 || ev.Direction != conn.DirUnknown) {
		c.BirthNs = ev.BirthNs
	}
	src := ev.OwnerSource
	if src == conn.OwnerListen && ev.Kind == tracer.KindState && ev.NewState != conn.TCPListen && ev.OldState != conn.TCPListen {
		src = conn.OwnerListener
	}
	setOwner(c, ev.Owner, src)
	if trust(c.OwnerSource) < trust(conn.OwnerSnapshot) {
		if p, ok := t.tuples[[2]netip.AddrPort{c.Local, c.Remote}]; ok {
			setOwner(c, p, conn.OwnerSnapshot)
		}
	}

	if ev.Kind == tracer.KindAccept {
		if c.State == 0 {
			c.State = ev.NewState
		}
		return tr, false
	}

	if c.BirthNs == 0 && ev.OldState == conn.TCPClose && ev.NewState == conn.TCPSynSent {
		c.BirthNs = ev.TimeNs
	}
	if ev.OldState == conn.TCPListen && ev.NewState == conn.TCPSynRecv {
		c.Direction = conn.DirPassive
		if c.BirthNs == 0 {
			c.BirthNs = ev.TimeNs
		}
		if c.OwnerSource == conn.OwnerNone {
			if p, ok := t.listeners[ev.Local]; ok {
				setOwner(c, p, conn.OwnerListener)
			} else if p, ok := t.listeners[netip.AddrPortFrom(unspecified(ev.Local.Addr()), ev.Local.Port())]; ok {
				setOwner(c, p, conn.OwnerListener)
			}
		}
	}
	if ev.NewState == conn.TCPListen {
		c.Listener = true
		t.listeners[ev.Local] = c.Owner
	}

	tr = conn.Transition{OldState: ev.OldState, NewState: ev.NewState, TimeNs: ev.TimeNs, CurPID: ev.CurPID}
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
	if ev.NewState == conn.TCPClose && !c.Closed {
		c.Closed = true
		c.CloseNs = ev.TimeNs
		c.ClosedFrom = ev.OldState
		c.Err = ev.SkErr
		c.ViaTimeWait = ev.OldState == conn.TCPFinWait2 || ev.OldState == conn.TCPClosing || ev.OldState == conn.TCPFinWait1
		tr.NewlyDone = true
		if ev.OldState == conn.TCPListen {
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
