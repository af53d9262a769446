package merged

import (
	"net/netip"

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

// Close stops the tracer, if any.
func (m *Source) Close() {
	if m.live != nil {
		m.live.Close()
	}
}

// Rows reads the TCP tables once. The rows are valid until the next call,
// which reuses their memory: a view that refreshes holds one listing.
func (m *Source) Rows() []Row {
	m.owners.Refresh(owners.Read(m.fs, m.opt))
	now := tracer.MonotonicNow()
	clear(m.rows) // no owner name outlives its listing
	out := m.rows[:0]
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		m.fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s == nil {
				return
			}
			r := Row{Sock: RowSocket{Local: s.Local, Remote: s.Remote, Inode: s.Inode, Family: s.Family, State: s.State}, Dir: "-"}
			r.Owner, r.HasOwner = m.owners.LookupSocket(s)
			if m.live != nil {
				if c, ok := m.live.ByTuple(s.Local, s.Remote); ok {
					if c.BirthNs != 0 && now > c.BirthNs {
						r.AgeNs = now - c.BirthNs
					}
					r.Tx, r.Rx, r.Dir = c.TxBytes, c.RxBytes, c.Direction.String()
				}
			}
			out = append(out, r)
		})
	}
	m.rows = out
	return out
}
