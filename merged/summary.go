package merged

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// Count is one line of a "top" list.
type Count struct {
	Key   string `json:"key"`
	PID   int    `json:"pid,omitempty"`
	Count int    `json:"count"`
}

func topCounts(m map[string]*Count, n int) []Count {
	out := make([]Count, 0, len(m))
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

// OwnerKey is a row's owner as "PID/name" ("-" when unknown) and its PID.
func OwnerKey(r *Row) (string, int) {
	if !r.HasOwner {
		return "-", 0
	}
	return strconv.Itoa(r.Owner.PID) + "/" + r.Owner.Name, r.Owner.PID
}

// PortPressure is how close a local address is to running out of
// ephemeral ports towards one remote endpoint: the kernel needs a distinct
// local port per (local address, remote address:port).
type PortPressure struct {
	Local    string  `json:"laddr"`
	Remote   string  `json:"remote"`
	TimeWait int     `json:"time_wait"`
	InUse    int     `json:"in_use"` // all sockets with an ephemeral local port
	Range    int     `json:"range"`
	UsedPct  float64 `json:"used_pct"`
}

// EphemeralRange reads net.ipv4.ip_local_port_range of this namespace.
func EphemeralRange(fs snapshot.FS) (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := snapshot.ReadFile(fs.Path("sys", "net", "ipv4", "ip_local_port_range"))
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

// Summary is the TIME_WAIT pressure summary.
type Summary struct {
	TimeWait int     `json:"time_wait"`
	ByOwner  []Count `json:"by_owner"`
	ByRemote []Count `json:"by_remote"`
	// ByContainer counts per owner's container id ("-" when the owner is
	// in none, or unknown); only rows with identities (Source.SetNamer).
	ByContainer []Count        `json:"by_container"`
	PortRange   [2]int         `json:"ephemeral_port_range"`
	Pressure    []PortPressure `json:"port_pressure"`
	OwnerKnown  bool           `json:"owners_from_tracer"`
}

// Summarize counts the TIME_WAIT rows per owner and per remote endpoint
// (the topN of each) and the ephemeral ports in use per local address and
// remote endpoint, for a port range lo-hi. The rows are one network
// namespace's: a connection whose local port is one a socket of theirs
// listens on is a server's and holds no ephemeral port, even inside the
// range.
func Summarize(rows []Row, lo, hi int, topN int) Summary {
	sum := Summary{PortRange: [2]int{lo, hi}, Pressure: []PortPressure{}}
	byOwner := map[string]*Count{}
	byRemote := map[string]*Count{}
	byContainer := map[string]*Count{}
	type pk struct {
		local  netip.Addr
		remote netip.AddrPort
	}
	press := map[pk]*PortPressure{}
	// The kernel lists the listeners first, but the rows of one family
	// can follow another's: collect the listening ports beforehand.
	var listening map[uint16]bool
	for i := range rows {
		if s := &rows[i].Sock; conn.State(s.State) == conn.TCPListen {
			if listening == nil {
				listening = map[uint16]bool{}
			}
			listening[s.Local.Port()] = true
		}
	}
	for i := range rows {
		r := &rows[i]
		s := &r.Sock
		lp := int(s.Local.Port())
		if conn.State(s.State) != conn.TCPListen && lp >= lo && lp <= hi && s.Remote.Port() != 0 && !listening[uint16(lp)] {
			k := pk{s.Local.Addr(), s.Remote}
			p := press[k]
			if p == nil {
				p = &PortPressure{Local: s.Local.Addr().Unmap().String(), Remote: netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port()).String(), Range: hi - lo + 1}
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
		key, pid := OwnerKey(r)
		if byOwner[key] == nil {
			byOwner[key] = &Count{Key: key, PID: pid}
		}
		byOwner[key].Count++
		rk := netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port()).String()
		if byRemote[rk] == nil {
			byRemote[rk] = &Count{Key: rk}
		}
		byRemote[rk].Count++
		ck := "-"
		if r.Ident != nil && r.Ident.ContainerID != "" {
			ck = r.Ident.ContainerID
		}
		if byContainer[ck] == nil {
			byContainer[ck] = &Count{Key: ck}
		}
		byContainer[ck].Count++
	}
	sum.ByContainer = topCounts(byContainer, topN)
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
