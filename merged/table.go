package merged

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/cgroups"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// TableConfig bounds the table.
type TableConfig struct {
	// MaxConns caps the number of connections kept; 0 means 131072, room
	// for 100,000 TIME_WAIT sockets' owners and the open connections.
	MaxConns int
	// TimeWaitNs is how long a closed connection is kept for the TIME_WAIT
	// socket that may outlive it; 0 means 60 s (TCP_TIMEWAIT_LEN).
	TimeWaitNs uint64
	// DropClosed forgets a connection as soon as it closes, for consumers
	// that only stream transitions (trace, life) and never look back; nor
	// do they look up by 4-tuple, so the table keeps no 4-tuple index
	// (ByTuple finds nothing).
	DropClosed bool
	// TimeWaitOnly keeps, of the closed connections, only those that
	// closed into TIME_WAIT (whose timewait sockets still need an owner),
	// for views that show no ghost rows (watch, timewait).
	TimeWaitOnly bool
}

// DefaultMaxConns is the table's cap when TableConfig.MaxConns is 0.
const DefaultMaxConns = 1 << 17

// Table is the live connection table, keyed by socket cookie. It is not
// safe for concurrent use.
//
// A connection costs it about 250 bytes (TestTableMemoryBudget): a
// pointer-free entry in a slab, and its places in the cookie and 4-tuple
// indexes and in the closed list.
type Table struct {
	cfg      TableConfig
	slab     slab
	byCookie map[uint64]uint32 // cookie -> slot
	// Evictions counts connections dropped because the table was full.
	Evictions uint64
	// listeners maps a listening address to its owner, for children of
	// listeners that the tracer did not see start.
	listeners map[netip.AddrPort]conn.Process
	// tuples maps the 4-tuple of sockets seen in a start-up snapshot to
	// their owner, for connections older than the tracer.
	tuples map[tuple]conn.Process
	// byTuple finds a connection's cookie by its 4-tuple (local, remote),
	// for joining /proc rows, which have no cookie.
	byTuple map[tuple]uint64
	// otherNS holds, by network namespace and 4-tuple, the connections
	// that another namespace's connection with the same 4-tuple pushed
	// out of byTuple (127.0.0.1:8080 in two containers): ByTupleNS finds
	// them. It is empty unless namespaces share tuples.
	otherNS map[nsTuple]uint64
	// closed holds cookies in the order their connections closed, so that
	// expiry and eviction take the oldest in O(1) (a scan of the whole
	// table per new connection made the tracer fall behind under churn).
	closed     []uint64
	closedHead int
	// long holds the owner names that do not fit an entry, by cookie.
	long map[uint64]string
	// names turns entries' names back into strings, one per name.
	names map[[16]byte]string
	// idents holds the owners' identities (cgroup, container, pod, unit),
	// one per cgroup id, shared by every entry of that cgroup; identLong
	// those of owners with no cgroup id (from a snapshot), by cookie.
	idents    map[uint64]*cgroups.Identity
	identLong map[uint64]*cgroups.Identity
}

// NewTable returns an empty table.
func NewTable(cfg TableConfig) *Table {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.TimeWaitNs == 0 {
		cfg.TimeWaitNs = 60e9
	}
	return &Table{cfg: cfg, byCookie: make(map[uint64]uint32), listeners: make(map[netip.AddrPort]conn.Process),
		tuples: make(map[tuple]conn.Process), byTuple: make(map[tuple]uint64), otherNS: make(map[nsTuple]uint64), long: make(map[uint64]string),
		names: make(map[[16]byte]string), idents: make(map[uint64]*cgroups.Identity), identLong: make(map[uint64]*cgroups.Identity)}
}

// Len is the number of connections held, closed ones included.
func (t *Table) Len() int { return len(t.byCookie) }

func (t *Table) entry(cookie uint64) *entry {
	i, ok := t.byCookie[cookie]
	if !ok {
		return nil
	}
	return t.slab.at(i)
}

// Get returns a copy of the connection with a cookie.
func (t *Table) Get(cookie uint64) (conn.Conn, bool) {
	e := t.entry(cookie)
	if e == nil {
		return conn.Conn{}, false
	}
	return t.conn(e), true
}

// ByTuple returns a copy of the connection with a 4-tuple.
func (t *Table) ByTuple(local, remote netip.AddrPort) (conn.Conn, bool) {
	e := t.byTupleEntry(local, remote)
	if e == nil {
		return conn.Conn{}, false
	}
	return t.conn(e), true
}

// ByTupleNS returns a copy of the connection with a 4-tuple in the
// network namespace with inode netns (conn.Conn.NetNS): the same tuple
// can stand in two namespaces at once.
func (t *Table) ByTupleNS(netns uint32, local, remote netip.AddrPort) (conn.Conn, bool) {
	k := tupleOf(local, remote)
	if e := t.entry(t.byTuple[k]); e != nil && e.netns == netns {
		return t.conn(e), true
	}
	if e := t.entry(t.otherNS[nsTuple{netns, k}]); e != nil && e.netns == netns && e.tupleKey() == k {
		return t.conn(e), true
	}
	return conn.Conn{}, false
}

// indexTuple makes e the connection of its 4-tuple, keeping the one it
// replaces findable by namespace when that one is of another namespace.
func (t *Table) indexTuple(e *entry) {
	k := e.tupleKey()
	if old, ok := t.byTuple[k]; ok && old != e.cookie {
		if o := t.entry(old); o != nil && o.netns != e.netns {
			t.otherNS[nsTuple{o.netns, k}] = old
		}
	}
	if len(t.otherNS) > 0 {
		if nk := (nsTuple{e.netns, k}); t.otherNS[nk] == e.cookie {
			delete(t.otherNS, nk)
		}
	}
	t.byTuple[k] = e.cookie
}

func (t *Table) byTupleEntry(local, remote netip.AddrPort) *entry {
	cookie, ok := t.byTuple[tupleOf(local, remote)]
	if !ok {
		return nil
	}
	return t.entry(cookie)
}

// conn makes the conn.Conn of an entry.
func (t *Table) conn(e *entry) conn.Conn {
	return conn.Conn{
		Cookie: e.cookie, Family: e.family, Local: e.localAP(), Remote: e.remoteAP(), NetNS: e.netns, State: e.state,
		Owner: t.owner(e), OwnerSource: e.ownerSource,
		Direction: e.direction, BirthNs: e.birthNs, StateNs: e.stateNs, Closed: e.has(fClosed), CloseNs: e.closeNs,
		ClosedFrom: e.closedFrom, TxBytes: e.tx, RxBytes: e.rx, Retransmits: e.retrans, SRTTus: e.srtt, Err: e.err,
		ViaTimeWait: e.has(fViaTimeWait), Listener: e.has(fListener), Shown: e.has(fShown),
		EndUnseen: e.has(fEndUnseen),
	}
}

func (t *Table) commOf(e *entry) string {
	if e.has(fLongComm) {
		return t.long[e.cookie]
	}
	if s, ok := t.names[e.comm]; ok {
		return s
	}
	n := 0
	for n < len(e.comm) && e.comm[n] != 0 {
		n++
	}
	s := string(e.comm[:n])
	if len(t.names) >= 4096 { // a bound against unbounded distinct names
		clear(t.names)
	}
	t.names[e.comm] = s
	return s
}

// setOwnerOf stores an owner in an entry.
func (t *Table) setOwnerOf(e *entry, p conn.Process, src conn.OwnerSource) {
	e.pid, e.tid, e.uid, e.ownerSource, e.cgroup = p.PID, p.TID, p.UID, src, p.CgroupID
	delete(t.identLong, e.cookie)
	if p.Ident != nil {
		if p.CgroupID != 0 {
			if len(t.idents) >= 1<<16 { // a bound against unbounded distinct cgroups
				clear(t.idents)
			}
			t.idents[p.CgroupID] = p.Ident
		} else {
			t.identLong[e.cookie] = p.Ident
		}
	}
	if e.has(fLongComm) {
		delete(t.long, e.cookie)
	}
	e.comm = [16]byte{}
	if len(p.Comm) > len(e.comm) || len(p.Comm) == len(e.comm) && p.Comm[len(p.Comm)-1] == 0 {
		e.set(fLongComm, true)
		t.long[e.cookie] = p.Comm
		return
	}
	e.set(fLongComm, false)
	copy(e.comm[:], p.Comm)
}

func (t *Table) owner(e *entry) conn.Process {
	p := conn.Process{PID: e.pid, TID: e.tid, UID: e.uid, Comm: t.commOf(e), CgroupID: e.cgroup}
	if e.cgroup != 0 {
		p.Ident = t.idents[e.cgroup]
	} else {
		p.Ident = t.identLong[e.cookie]
	}
	return p
}

func (t *Table) forget(e *entry) {
	i := t.byCookie[e.cookie]
	delete(t.byCookie, e.cookie)
	if len(t.byTuple) > 0 {
		if k := e.tupleKey(); t.byTuple[k] == e.cookie {
			delete(t.byTuple, k)
		}
	}
	if len(t.otherNS) > 0 {
		if nk := (nsTuple{e.netns, e.tupleKey()}); t.otherNS[nk] == e.cookie {
			delete(t.otherNS, nk)
		}
	}
	if e.has(fLongComm) {
		delete(t.long, e.cookie)
	}
	delete(t.identLong, e.cookie)
	t.slab.release(i)
}

// SeedTuple records the owner of a connection seen in a start-up snapshot,
// for joining by 4-tuple when the tracer first sees it.
func (t *Table) SeedTuple(local, remote netip.AddrPort, p conn.Process) {
	t.tuples[tupleOf(local, remote)] = p
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

func (t *Table) setOwner(e *entry, p conn.Process, src conn.OwnerSource) {
	if trust(src) >= trust(e.ownerSource) && (src != conn.OwnerNone) {
		t.setOwnerOf(e, p, src)
	}
}

// add returns the entry of a cookie, making room for a new one.
func (t *Table) add(cookie uint64, nowNs uint64) *entry {
	if e := t.entry(cookie); e != nil {
		return e
	}
	if len(t.byCookie) >= t.cfg.MaxConns {
		t.Expire(nowNs)
	}
	if len(t.byCookie) >= t.cfg.MaxConns && !t.evict() {
		return nil
	}
	i := t.slab.alloc()
	e := t.slab.at(i)
	*e = entry{cookie: cookie, direction: conn.DirUnknown}
	t.byCookie[cookie] = i
	return e
}

// evict makes room: the oldest closed connection, else any one.
func (t *Table) evict() bool {
	for t.closedHead < len(t.closed) {
		cookie := t.closed[t.closedHead]
		t.popClosed()
		if e := t.entry(cookie); e != nil && e.has(fClosed) {
			t.forget(e)
			t.Evictions++
			return true
		}
	}
	for _, i := range t.byCookie { // no closed one: any, O(1)
		t.forget(t.slab.at(i))
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
		e := t.entry(t.closed[t.closedHead])
		if e != nil && e.has(fClosed) && nowNs <= e.closeNs+t.cfg.TimeWaitNs {
			break
		}
		t.popClosed()
		if e != nil && e.has(fClosed) {
			t.forget(e)
			n++
		}
	}
	return n
}

// MarkShown records that a listing showed the connection with a cookie,
// or with a 4-tuple, open.
func (t *Table) MarkShown(cookie uint64) {
	if e := t.entry(cookie); e != nil {
		e.set(fShown, true)
	}
}

// MarkShownTuple is MarkShown by 4-tuple.
func (t *Table) MarkShownTuple(local, remote netip.AddrPort) {
	if e := t.byTupleEntry(local, remote); e != nil {
		e.set(fShown, true)
	}
}

// TakeUnshown returns the closed connections (not listeners) that no
// listing has shown, marks them shown, and forgets those that did not
// close into TIME_WAIT: nothing will look for them again.
func (t *Table) TakeUnshown() []conn.Conn {
	var out []conn.Conn
	var done []*entry
	for _, i := range t.byCookie {
		e := t.slab.at(i)
		if e.has(fClosed) && !e.has(fShown) && !e.has(fListener) {
			e.set(fShown, true)
			out = append(out, t.conn(e))
			if !e.has(fViaTimeWait) {
				done = append(done, e)
			}
		}
	}
	for _, e := range done {
		t.forget(e)
	}
	return out
}

// Apply folds an event into the table. For a state event it returns the
// transition (ok true); an accept event only updates the owner.
func (t *Table) Apply(ev *tracer.Event) (tr conn.Transition, ok bool) {
	if ev.Cookie == 0 {
		return tr, false
	}
	e := t.add(ev.Cookie, ev.TimeNs)
	if e == nil {
		return tr, false
	}
	if ev.Kind == tracer.KindEnd {
		return t.endUnseen(e, ev)
	}
	e.family = ev.Family
	e.netns = ev.NetNS
	// The kernel clears the local port once the socket leaves its hash
	// tables (tcp_done), so keep the first complete tuple seen.
	if ev.Local.Port() != 0 || !e.has(fLocalValid) {
		e.setLocal(ev.Local)
	}
	if ev.Remote.Port() != 0 || !e.has(fRemoteValid) {
		e.setRemote(ev.Remote)
	}
	if e.lport != 0 && e.rport != 0 && !t.cfg.DropClosed {
		t.indexTuple(e)
	}
	if ev.Direction != conn.DirUnknown {
		e.direction = ev.Direction
	}
	if ev.BirthNs != 0 && (e.birthNs == 0 || ev.Direction != conn.DirUnknown) {
		e.birthNs = ev.BirthNs
	}
	src := ev.OwnerSource
	if src == conn.OwnerListen && ev.Kind == tracer.KindState && ev.NewState != conn.TCPListen && ev.OldState != conn.TCPListen {
		src = conn.OwnerListener
	}
	t.setOwner(e, ev.Owner, src)
	if trust(e.ownerSource) < trust(conn.OwnerSnapshot) && len(t.tuples) > 0 {
		if p, ok := t.tuples[e.tupleKey()]; ok {
			t.setOwner(e, p, conn.OwnerSnapshot)
		}
	}
	if ev.Kind == tracer.KindAccept {
		if e.state == 0 {
			e.state = ev.NewState
		}
		return tr, false
	}
	if e.birthNs == 0 && ev.OldState == conn.TCPClose && ev.NewState == conn.TCPSynSent {
		e.birthNs = ev.TimeNs
	}
	if ev.OldState == conn.TCPListen && ev.NewState == conn.TCPSynRecv {
		e.direction = conn.DirPassive
		if e.birthNs == 0 {
			e.birthNs = ev.TimeNs
		}
		if e.ownerSource == conn.OwnerNone {
			if p, ok := t.listeners[ev.Local]; ok {
				t.setOwner(e, p, conn.OwnerListener)
			} else if p, ok := t.listeners[netip.AddrPortFrom(unspecified(ev.Local.Addr()), ev.Local.Port())]; ok {
				t.setOwner(e, p, conn.OwnerListener)
			}
		}
	}
	if ev.NewState == conn.TCPListen {
		e.set(fListener, true)
		t.listeners[ev.Local] = t.owner(e)
	}
	tr = conn.Transition{OldState: ev.OldState, NewState: ev.NewState, TimeNs: ev.TimeNs, CurPID: ev.CurPID}
	switch {
	case ev.StateNs != 0 && ev.TimeNs >= ev.StateNs:
		tr.InOldNs = ev.TimeNs - ev.StateNs
	case e.stateNs != 0 && ev.TimeNs >= e.stateNs:
		tr.InOldNs = ev.TimeNs - e.stateNs
	}
	e.state = ev.NewState
	e.stateNs = ev.TimeNs
	e.retrans = ev.TotalRetrans
	e.srtt = ev.SRTTus
	e.tx = ev.BytesSent - min(ev.BytesRetrans, ev.BytesSent)
	e.rx = ev.BytesReceived
	if ev.PeerFin && e.rx > 0 {
		e.rx-- // tcp_fin(): the peer's FIN took one sequence number
	}
	if ev.NewState == conn.TCPClose && !e.has(fClosed) {
		e.set(fClosed, true)
		e.closeNs = ev.TimeNs
		e.closedFrom = ev.OldState
		e.err = ev.SkErr
		e.set(fViaTimeWait, ev.OldState == conn.TCPFinWait2 || ev.OldState == conn.TCPClosing || ev.OldState == conn.TCPFinWait1)
		tr.NewlyDone = true
		if ev.OldState == conn.TCPListen {
			delete(t.listeners, ev.Local)
		}
		tr.Conn = t.conn(e)
		switch {
		case t.cfg.DropClosed, !e.has(fViaTimeWait) && (t.cfg.TimeWaitOnly || e.has(fShown)):
			// Nothing will look for it: no TIME_WAIT socket outlives it
			// and no ghost row is due (none wanted, or it was listed).
			t.forget(e)
		default:
			t.closed = append(t.closed, e.cookie)
		}
		return tr, true
	}
	tr.Conn = t.conn(e)
	return tr, true
}

// endUnseen closes a connection whose socket the kernel freed with no
// -> CLOSE that a state program saw (tracer.KindEnd, from the end hook or
// the sweep): the transition is from the last state known (CLOSE when none
// was), at the time of the free, and its end is "unseen"
// (conn.FailUnseen), its error and its last counters unknown.
//
// What the end record brings is taken only where nothing better is known:
// the kernel has reset the socket's source address and cleared its remote
// port by its free, but keeps its local port; the sweep brings a timewait
// socket's whole tuple, or none.
func (t *Table) endUnseen(e *entry, ev *tracer.Event) (conn.Transition, bool) {
	if e.has(fClosed) {
		return conn.Transition{}, false
	}
	if !e.has(fLocalValid) && !e.has(fRemoteValid) {
		e.family, e.netns = ev.Family, ev.NetNS
	}
	if !e.has(fLocalValid) || e.lport == 0 {
		l := ev.Local
		if e.has(fLocalValid) && !e.localAP().Addr().IsUnspecified() {
			l = netip.AddrPortFrom(e.localAP().Addr(), l.Port())
		}
		e.setLocal(l)
	}
	if !e.has(fRemoteValid) || e.rport == 0 && ev.Remote.Port() != 0 {
		e.setRemote(ev.Remote)
	}
	if e.lport != 0 && e.rport != 0 && !t.cfg.DropClosed {
		t.indexTuple(e)
	}
	if ev.Direction != conn.DirUnknown {
		e.direction = ev.Direction
	}
	if e.birthNs == 0 {
		e.birthNs = ev.BirthNs
	}
	t.setOwner(e, ev.Owner, ev.OwnerSource)
	from := e.state
	if from == 0 {
		from = conn.TCPClose
	}
	tr := conn.Transition{OldState: from, NewState: conn.TCPClose, TimeNs: ev.TimeNs, CurPID: ev.CurPID, NewlyDone: true}
	if e.stateNs != 0 && ev.TimeNs >= e.stateNs {
		tr.InOldNs = ev.TimeNs - e.stateNs
	}
	e.state, e.stateNs = conn.TCPClose, ev.TimeNs
	e.set(fClosed, true)
	e.set(fEndUnseen, true)
	// The sweep found its timewait socket (tracer.Tracer.Sweep): it closed
	// into TIME_WAIT, whose socket keeps its owner.
	e.set(fViaTimeWait, ev.OldState == conn.TCPTimeWait)
	e.closeNs = ev.TimeNs
	e.closedFrom = from
	tr.Conn = t.conn(e)
	if t.cfg.DropClosed || !e.has(fViaTimeWait) && (t.cfg.TimeWaitOnly || e.has(fShown)) {
		t.forget(e)
	} else {
		t.closed = append(t.closed, e.cookie)
	}
	return tr, true
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
