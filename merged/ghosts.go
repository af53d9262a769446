package merged

import (
	"net/netip"
	"sort"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Seen identifies the connections a listing showed open: by cookie where
// the snapshot source has one (sock_diag), else by 4-tuple.
type Seen struct {
	Cookies map[uint64]struct{}
	Tuples  map[[2]netip.AddrPort]struct{}
}

// NewSeen returns an empty set.
func NewSeen() *Seen {
	return &Seen{Cookies: map[uint64]struct{}{}, Tuples: map[[2]netip.AddrPort]struct{}{}}
}

// TakeGhosts marks what a listing showed open, then returns the closed
// connections that no listing has shown open or as a ghost, and marks them
// shown: the connections that lived and died between two looks, each
// returned exactly once.
func (l *Live) TakeGhosts(seen *Seen) []conn.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range seen.Cookies {
		l.table.MarkShown(k)
	}
	for k := range seen.Tuples {
		l.table.MarkShownTuple(k[0], k[1])
	}
	return l.table.TakeUnshown()
}

// Listing is the merged state of a refreshing socket listing (bpfnetstat
// -c): the owners of rows without an inode and, for --recent, which
// connections each listing showed, so that those that lived and died
// between two listings come out as ghost rows.
type Listing struct {
	// Owners names the rows' owners; the listing refreshes it.
	Owners *RowOwners
	fs     snapshot.FS
	live   *Live
	seen   *Seen // nil unless ghosts are wanted
}

// NewListing joins a refreshing listing under a proc root with a live
// tracer (nil without BPF); recent keeps track of the connections shown.
func NewListing(fs snapshot.FS, live *Live, recent bool) *Listing {
	l := &Listing{Owners: NewRowOwners(fs, live), fs: fs, live: live}
	if recent && live != nil {
		l.seen = NewSeen()
	}
	return l
}

// Close stops the tracer, if any.
func (l *Listing) Close() {
	if l.live != nil {
		l.live.Close()
	}
}

// Saw records a row the current listing shows. A connection listed while
// open is not a ghost later; its TIME_WAIT remnant does not count: the
// connection itself was never seen. A SYN_RECV row is the request socket,
// whose cookie the socket that accept() later returns does not inherit:
// it counts by 4-tuple.
func (l *Listing) Saw(s *snapshot.Socket) {
	if l.seen == nil || s.Proto != snapshot.ProtoTCP || conn.State(s.State) == conn.TCPTimeWait {
		return
	}
	if s.Cookie != 0 {
		l.seen.Cookies[s.Cookie] = struct{}{}
	}
	if s.Cookie == 0 || conn.State(s.State) == conn.TCPSynRecv {
		l.seen.Tuples[[2]netip.AddrPort{s.Local, s.Remote}] = struct{}{}
	}
}

// Ghost is a TCP connection that opened and closed between two listings,
// as a CLOSE row.
type Ghost struct {
	Sock       snapshot.Socket
	Owner      *snapshot.Owner // nil when unknown
	LifetimeMs float64
}

// Ghosts returns, in the order they closed, the connections that opened
// and closed since the previous listing and that keep accepts, then
// starts a new listing. Without a tracer there are none.
func (l *Listing) Ghosts(keep func(*snapshot.Socket) bool) []Ghost {
	if l.live == nil {
		return nil
	}
	// Everything that closed before now is in the table once Sync returns;
	// what this listing showed live is not a ghost, nor what an earlier one
	// showed; what closes later is a ghost of the next listing.
	l.live.Sync(tracer.MonotonicNow())
	conns := l.live.TakeGhosts(l.seen)
	l.seen = NewSeen()
	names := map[uint32]string{}
	sort.Slice(conns, func(i, j int) bool { return conns[i].CloseNs < conns[j].CloseNs })
	var out []Ghost
	for i := range conns {
		c := &conns[i]
		g := Ghost{Sock: snapshot.Socket{Proto: snapshot.ProtoTCP, Family: c.Family, Local: c.Local, Remote: c.Remote, State: uint8(conn.TCPClose), UID: int64(c.Owner.UID)}}
		if !keep(&g.Sock) {
			continue
		}
		if c.Owner.PID != 0 {
			name, ok := names[c.Owner.PID]
			if !ok {
				if name, ok = owners.ProgramName(l.fs, int(c.Owner.PID)); !ok {
					name = c.Owner.Comm
				}
				names[c.Owner.PID] = name
			}
			g.Owner = &snapshot.Owner{PID: int(c.Owner.PID), Name: name, Source: c.OwnerSource.String()}
		}
		g.LifetimeMs = float64(c.DurationNs(0)) / 1e6
		out = append(out, g)
	}
	return out
}
