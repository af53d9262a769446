package merged

import (
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// Row is one TCP socket of the merged view: the /proc row, its owner and
// what the tracer knows of its connection.
type Row struct {
	Sock     snapshot.Socket
	Owner    snapshot.Owner
	HasOwner bool
	AgeNs    uint64 // since the tracer saw it open; 0 when unknown
	Tx, Rx   uint64 // payload bytes as of its last state change
	Dir      string
}

// Source produces merged snapshots: /proc tables, owners joined through
// RowOwners, and the live tracer when there is one.
type Source struct {
	fs     snapshot.FS
	opt    owners.Options
	owners *RowOwners
	live   *Live
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

// Rows reads the TCP tables once.
func (m *Source) Rows() []Row {
	m.owners.Refresh(owners.Read(m.fs, m.opt))
	now := tracer.MonotonicNow()
	var out []Row
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		m.fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s == nil {
				return
			}
			r := Row{Sock: *s, Dir: "-"}
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
	return out
}
