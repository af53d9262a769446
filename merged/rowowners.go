package merged

import (
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// RowOwners names the owners of the rows of refreshing views. /proc's fd scan
// names every socket that has an inode; a TIME_WAIT row (and an orphaned
// FIN_WAIT2 or CLOSE row) has none, so netstat prints "-". For those,
// RowOwners asks the live tracer by 4-tuple and, failing that (no BPF, or a
// connection older than the tracer), remembers the owner that the same
// 4-tuple had at the previous refresh.
type RowOwners struct {
	fs   snapshot.FS
	proc *owners.Map
	live *Live // nil without BPF
	// prev and cur are the owners of the previous and the current
	// listing's rows; two maps that trade places, so that a refresh
	// allocates nothing once they have grown.
	prev map[tuple]snapshot.Owner
	cur  map[tuple]snapshot.Owner
	// names caches program names of tracer-reported PIDs for one refresh.
	names map[uint32]string
	// syncSpent bounds how long a listing waits for the tracer to catch
	// up (monotonic ns).
	syncSpent uint64
	// remote, when set, is asked once per listing, at its first row that
	// nothing here can name, for the owners of every such row.
	remote      RemoteOwners
	remoteAsked bool
	remoteAns   map[[2]netip.AddrPort]snapshot.Owner
}

// SetRemote makes the listing ask f (the agent) for the owners of rows
// that neither /proc nor this process's tracer can name.
func (o *RowOwners) SetRemote(f RemoteOwners) { o.remote = f }

// askRemote asks the remote source, in one question, for the owners of
// every inode-less TCP socket of the tables now.
func (o *RowOwners) askRemote() map[[2]netip.AddrPort]snapshot.Owner {
	var tuples [][2]netip.AddrPort
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		o.fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s != nil && s.Inode == 0 && conn.State(s.State) != conn.TCPListen {
				tuples = append(tuples, [2]netip.AddrPort{s.Local, s.Remote})
			}
		})
	}
	if len(tuples) == 0 {
		return nil
	}
	return o.remote(tuples)
}

// NewRowOwners returns an owner source over a proc root and an optional
// live tracer.
func NewRowOwners(fs snapshot.FS, live *Live) *RowOwners {
	return &RowOwners{fs: fs, live: live, names: map[uint32]string{}, prev: map[tuple]snapshot.Owner{}, cur: map[tuple]snapshot.Owner{}}
}

// Refresh starts a new listing with a fresh /proc owner map; what the last
// listing saw becomes what is remembered.
func (o *RowOwners) Refresh(proc *owners.Map) {
	if o.live != nil {
		o.live.Sync(tracer.MonotonicNow()) // what closed before this listing is known
	}
	o.proc = proc
	o.prev, o.cur = o.cur, o.prev
	clear(o.cur)
	clear(o.names)
	o.syncSpent = 0
	o.remoteAsked, o.remoteAns = false, nil
}

// Lookup is the /proc answer for an inode.
func (o *RowOwners) Lookup(inode uint64) (snapshot.Owner, bool) {
	return o.proc.Lookup(inode)
}

// LookupSocket names a row's owner.
func (o *RowOwners) LookupSocket(s *snapshot.Socket) (snapshot.Owner, bool) {
	if s.Proto != snapshot.ProtoTCP {
		return o.proc.Lookup(s.Inode)
	}
	key := tupleOf(s.Local, s.Remote)
	if s.Inode != 0 {
		ow, ok := o.proc.Lookup(s.Inode)
		if ok {
			o.cur[key] = ow
		}
		return ow, ok
	}
	if o.live != nil {
		// The timewait socket keeps the connection's cookie: an exact join
		// where the snapshot came from sock_diag; the 4-tuple otherwise.
		lookup := func() (conn.Conn, bool) {
			if s.Cookie != 0 {
				if c, ok := o.live.ByCookie(s.Cookie); ok {
					return c, true
				}
			}
			return o.live.ByTuple(s.Local, s.Remote)
		}
		c, ok := lookup()
		if now := tracer.MonotonicNow(); !ok && o.syncSpent < 100e6 {
			// It may have closed since the listing began: catch up. Rows
			// older than the tracer all miss, so the waiting is bounded
			// per listing.
			o.live.Sync(now)
			o.syncSpent += tracer.MonotonicNow() - now
			c, ok = lookup()
		}
		if ok && c.Owner.PID != 0 {
			// Not remembered: the tracer keeps a closed connection for as
			// long as its TIME_WAIT socket lives, and will answer again;
			// remembering every TIME_WAIT row took as much memory again.
			return snapshot.Owner{PID: int(c.Owner.PID), Name: o.name(c.Owner), Source: c.OwnerSource.String()}, true
		}
	}
	if o.remote != nil {
		if !o.remoteAsked {
			o.remoteAsked = true
			o.remoteAns = o.askRemote()
		}
		if ow, ok := o.remoteAns[[2]netip.AddrPort{s.Local, s.Remote}]; ok {
			o.cur[key] = ow
			return ow, true
		}
	}
	if ow, ok := o.prev[key]; ok {
		if ow.Source == "" {
			ow.Source = "remembered"
		}
		o.cur[key] = ow
		return ow, true
	}
	return snapshot.Owner{}, false
}

// name is netstat's program name for a PID while it lives, else its comm.
func (o *RowOwners) name(p conn.Process) string {
	if n, ok := o.names[p.PID]; ok {
		return n
	}
	n, ok := owners.ProgramName(o.fs, int(p.PID))
	if !ok {
		n = p.Comm
	}
	o.names[p.PID] = n
	return n
}
