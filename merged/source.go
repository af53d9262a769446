package merged

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Row is one TCP socket of the merged view: the /proc row, its owner and
// what the tracer knows of its connection.
type Row struct {
	Sock     RowSocket
	Owner    snapshot.Owner
	HasOwner bool
	AgeNs    uint64 // since the tracer saw it open; 0 when unknown
	Tx, Rx   uint64 // payload bytes as of its last state change
	Dir      string
	// Ident is the owner's cgroup, container, pod and unit, when the
	// source names owners (SetNamer) and the owner is known; else nil.
	Ident *cgroups.Identity
}

// RowSocket is what the views use of a snapshot.Socket: 80 bytes of its
// 208, which counts with 100,000 TIME_WAIT rows per refresh.
type RowSocket struct {
	Local, Remote netip.AddrPort
	Inode         uint64
	Family        snapshot.Family
	State         uint8
}

// Source produces merged snapshots: /proc tables, owners joined through
// RowOwners, and the live tracer when there is one.
type Source struct {
	fs     snapshot.FS
	opt    owners.Options
	owners *RowOwners
	live   *Live
	rows   []Row // reused from refresh to refresh
	// namer names owners found by the fd scan; the tracer's come named.
	// idPrev and idCur remember each 4-tuple's identity for one more
	// refresh, as RowOwners remembers owners.
	namer         *cgroups.Namer
	idPrev, idCur map[[2]netip.AddrPort]*cgroups.Identity
	// With useDiag, TCP comes from sock_diag through diag, kept open from
	// refresh to refresh.
	useDiag   bool
	perFamily bool // the kernel refuses the one dump of both families
	diag      *snapshot.Diag
}

// UseDiag makes Rows read TCP from sock_diag, in one dump of both
// families per refresh, instead of /proc/net/tcp and tcp6: reading each
// of those walks the kernel's whole established hash, shared by every
// namespace, about twice, so an idle view spent most of its time there.
// Rows falls back to /proc for a refresh whose dump fails, and for good
// when the kernel has no sock_diag for TCP.
func (m *Source) UseDiag() { m.useDiag = true }

// RemoteOwners answers, for 4-tuples of TCP sockets that have no inode
// (TIME_WAIT, orphans) and that neither /proc nor this process's tracer
// can name, the owners another process remembers: the agent, which saw
// them close before this view started. It returns nothing on any error.
type RemoteOwners func(tuples [][2]netip.AddrPort) map[[2]netip.AddrPort]snapshot.Owner

// SetRemoteOwners makes Rows ask f, once per listing, for the owners of
// the rows nothing else named.
func (m *Source) SetRemoteOwners(f RemoteOwners) { m.owners.SetRemote(f) }

// SetNamer makes Rows give each owned row its identity.
func (m *Source) SetNamer(n *cgroups.Namer) {
	m.namer = n
	m.idCur = map[[2]netip.AddrPort]*cgroups.Identity{}
}

// ident is the identity of a row's owner: by pid for an fd owner (a fresh
// scan), from the tracer's connection, or remembered from the last refresh.
func (m *Source) ident(r *Row) *cgroups.Identity {
	if !r.HasOwner {
		return nil
	}
	key := [2]netip.AddrPort{r.Sock.Local, r.Sock.Remote}
	var id *cgroups.Identity
	switch {
	case r.Owner.Source == "":
		id = m.namer.ByPID(uint32(r.Owner.PID))
	case m.live != nil:
		c, ok := m.live.ByTuple(r.Sock.Local, r.Sock.Remote)
		if ok && c.Owner.Ident != nil {
			id = c.Owner.Ident
		}
	}
	if id == nil {
		id = m.idPrev[key]
	}
	if id != nil {
		m.idCur[key] = id
	}
	return id
}

// NewSource reads the tables under a proc root, with owners found as opt
// says, joined with a live tracer (nil without BPF). Close closes the
// tracer.
func NewSource(fs snapshot.FS, opt owners.Options, live *Live) *Source {
	return &Source{fs: fs, opt: opt, live: live, owners: NewRowOwners(fs, live)}
}

// Live is the source's tracer, nil without BPF.
func (m *Source) Live() *Live { return m.live }

// FS is the proc root the source reads.
func (m *Source) FS() snapshot.FS { return m.fs }

// Close stops the tracer, if any, and closes the sock_diag socket.
func (m *Source) Close() {
	if m.live != nil {
		m.live.Close()
	}
	if m.diag != nil {
		m.diag.Close()
		m.diag = nil
	}
}

// Rows reads the TCP tables once. The rows are valid until the next call,
// which reuses their memory: a view that refreshes holds one listing.
// The rows of each family come in the kernel's order; from sock_diag
// (UseDiag) the families are interleaved, listeners first, where /proc
// gives all IPv4 rows, then all IPv6 rows. The views sort them.
func (m *Source) Rows() []Row {
	m.owners.Refresh(owners.Read(m.fs, m.opt))
	now := tracer.MonotonicNow()
	clear(m.rows) // no owner name outlives its listing
	out := m.rows[:0]
	if m.namer != nil {
		m.idPrev, m.idCur = m.idCur, make(map[[2]netip.AddrPort]*cgroups.Identity, len(m.idCur))
	}
	row := func(s *snapshot.Socket) Row {
		r := Row{Sock: RowSocket{Local: s.Local, Remote: s.Remote, Inode: s.Inode, Family: s.Family, State: s.State}, Dir: "-"}
		r.Owner, r.HasOwner = m.owners.LookupSocket(s)
		if m.namer != nil {
			r.Ident = m.ident(&r)
		}
		if m.live != nil {
			if c, ok := m.live.ByTuple(s.Local, s.Remote); ok {
				if c.BirthNs != 0 && now > c.BirthNs {
					r.AgeNs = now - c.BirthNs
				}
				r.Tx, r.Rx, r.Dir = c.TxBytes, c.RxBytes, c.Direction.String()
			}
		}
		return r
	}
	if rows, ok := m.diagRows(out, row); ok {
		m.rows = rows
		return rows
	}
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		m.fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s != nil {
				out = append(out, row(s))
			}
		})
	}
	m.rows = out
	return out
}

// diagRows appends the rows of one sock_diag dump of both families to out;
// ok is false when the dump failed and /proc is to be read instead.
func (m *Source) diagRows(out []Row, row func(*snapshot.Socket) Row) (_ []Row, ok bool) {
	if !m.useDiag {
		return out, false
	}
	if m.diag == nil {
		d, err := snapshot.OpenDiag()
		if err != nil {
			return out, false
		}
		m.diag = d
	}
	err := m.eachTCP(func(s *snapshot.Socket) { out = append(out, row(s)) })
	if err != nil {
		// The socket may hold the rest of the dump: a new one next time,
		// unless the kernel has no sock_diag for TCP at all.
		m.diag.Close()
		m.diag = nil
		m.useDiag = !unsupported(err)
		clear(out)
		return out[:0], false
	}
	return out, true
}

// eachTCP dumps both families through m.diag: in one dump, or one per
// family on a kernel that refuses the one dump (before any socket). An
// IPv6-less kernel has no IPv6 sockets.
func (m *Source) eachTCP(fn func(*snapshot.Socket)) error {
	if !m.perFamily {
		err := m.diag.EachTCPBoth(snapshot.DiagOptions{}, fn)
		if !unsupported(err) {
			return err
		}
		m.perFamily = true
	}
	if err := m.diag.EachTCP(snapshot.FamilyInet, snapshot.DiagOptions{}, fn); err != nil {
		return err
	}
	if err := m.diag.EachTCP(snapshot.FamilyInet6, snapshot.DiagOptions{}, fn); err != nil && !errors.Is(err, snapshot.ErrDiagUnsupported) {
		return err
	}
	return nil
}

// unsupported says whether a dump failed for want of the kernel's support.
func unsupported(err error) bool {
	return err != nil && (errors.Is(err, snapshot.ErrDiagUnsupported) || errors.Is(err, unix.EINVAL))
}
