package cli

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// liveRow is one TCP socket of the merged view: the /proc row, its owner
// and what the tracer knows of its connection.
type liveRow struct {
	Sock     snapshot.Socket
	Owner    snapshot.Owner
	HasOwner bool
	AgeNs    uint64 // since the tracer saw it open; 0 when unknown
	Tx, Rx   uint64 // payload bytes as of its last state change
	Dir      string
}

// mergedSource produces merged snapshots: /proc tables, owners joined
// through merged.RowOwners, and the live tracer when there is one.
type mergedSource struct {
	fs     snapshot.FS
	env    Env
	owners *merged.RowOwners
	live   *tracer.Live
}

func newMergedSource(env Env, stderr func(string)) *mergedSource {
	m := &mergedSource{fs: snapshot.NewFS(env.ProcRoot), env: env}
	live, _, err := tracer.StartLive(tracer.Config{NetNS: ownNetNS()})
	if err != nil {
		stderr(fmt.Sprintf("bpfnetstat: %s; working from /proc snapshots: TIME_WAIT owners come only from earlier refreshes, and connections between refreshes, ages and byte counts are not known", whyNoBPF(err)))
	} else {
		m.live = live
	}
	m.owners = merged.NewRowOwners(m.fs, m.live)
	return m
}

func (m *mergedSource) Close() {
	if m.live != nil {
		m.live.Close()
	}
}

// rows reads the TCP tables once.
func (m *mergedSource) rows() []liveRow {
	m.owners.Refresh(readOwners(m.fs, m.env, false))
	now := tracer.MonotonicNow()
	var out []liveRow
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		m.fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s == nil {
				return
			}
			r := liveRow{Sock: *s, Dir: "-"}
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

// count is one line of a "top" list.
type count struct {
	Key   string `json:"key"`
	PID   int    `json:"pid,omitempty"`
	Count int    `json:"count"`
}

func topCounts(m map[string]*count, n int) []count {
	out := make([]count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func ownerKey(r *liveRow) (string, int) {
	if !r.HasOwner {
		return "-", 0
	}
	return strconv.Itoa(r.Owner.PID) + "/" + r.Owner.Name, r.Owner.PID
}

// portPressure is how close a local address is to running out of
// ephemeral ports towards one remote endpoint: the kernel needs a distinct
// local port per (local address, remote address:port).
type portPressure struct {
	Local    string  `json:"local_address"`
	Remote   string  `json:"remote"`
	TimeWait int     `json:"time_wait"`
	InUse    int     `json:"in_use"` // all sockets with an ephemeral local port
	Range    int     `json:"range"`
	UsedPct  float64 `json:"used_pct"`
}

// ephemeralRange reads net.ipv4.ip_local_port_range of this namespace.
func ephemeralRange(fs snapshot.FS) (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile(fs.Path("sys", "net", "ipv4", "ip_local_port_range"))
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		l, e1 := strconv.Atoi(f[0])
		h, e2 := strconv.Atoi(f[1])
		if e1 == nil && e2 == nil && l <= h {
			lo, hi = l, h
		}
	}
	return
}

// twSummary is the TIME_WAIT pressure summary.
type twSummary struct {
	TimeWait   int            `json:"time_wait"`
	ByOwner    []count        `json:"by_owner"`
	ByRemote   []count        `json:"by_remote"`
	PortRange  [2]int         `json:"ephemeral_port_range"`
	Pressure   []portPressure `json:"port_pressure"`
	OwnerKnown bool           `json:"owners_from_tracer"`
}

func summarize(rows []liveRow, lo, hi int, topN int) twSummary {
	sum := twSummary{PortRange: [2]int{lo, hi}}
	byOwner := map[string]*count{}
	byRemote := map[string]*count{}
	type pk struct {
		local  netip.Addr
		remote netip.AddrPort
	}
	press := map[pk]*portPressure{}
	for i := range rows {
		r := &rows[i]
		s := &r.Sock
		lp := int(s.Local.Port())
		if conn.State(s.State) != conn.TCPListen && lp >= lo && lp <= hi && s.Remote.Port() != 0 {
			k := pk{s.Local.Addr(), s.Remote}
			p := press[k]
			if p == nil {
				p = &portPressure{Local: s.Local.Addr().Unmap().String(), Remote: netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port()).String(), Range: hi - lo + 1}
				press[k] = p
			}
			p.InUse++
			if conn.State(s.State) == conn.TCPTimeWait {
				p.TimeWait++
			}
		}
		if conn.State(s.State) != conn.TCPTimeWait {
			continue
		}
		sum.TimeWait++
		key, pid := ownerKey(r)
		if byOwner[key] == nil {
			byOwner[key] = &count{Key: key, PID: pid}
		}
		byOwner[key].Count++
		rk := netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port()).String()
		if byRemote[rk] == nil {
			byRemote[rk] = &count{Key: rk}
		}
		byRemote[rk].Count++
	}
	sum.ByOwner = topCounts(byOwner, topN)
	sum.ByRemote = topCounts(byRemote, topN)
	for _, p := range press {
		p.UsedPct = 100 * float64(p.InUse) / float64(p.Range)
		sum.Pressure = append(sum.Pressure, *p)
	}
	sort.Slice(sum.Pressure, func(i, j int) bool {
		a, b := sum.Pressure[i], sum.Pressure[j]
		if a.InUse != b.InUse {
			return a.InUse > b.InUse
		}
		return a.Local+a.Remote < b.Local+b.Remote
	})
	if topN > 0 && len(sum.Pressure) > topN {
		sum.Pressure = sum.Pressure[:topN]
	}
	return sum
}
