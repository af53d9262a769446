package output

import (
	"encoding/json"
	"io"
	"net/netip"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// SocketJSON is the stable machine form of one socket row (--json). Field
// names are snake_case and never change meaning; new fields may be added.
// Addresses and ports are always numeric.
type SocketJSON struct {
	Protocol      string  `json:"protocol"` // tcp, udp, udplite, raw, unix
	Family        string  `json:"family"`   // inet, inet6, unix
	LocalAddress  string  `json:"laddr,omitempty"`
	LocalPort     *uint16 `json:"lport,omitempty"`
	RemoteAddress string  `json:"raddr,omitempty"`
	RemotePort    *uint16 `json:"rport,omitempty"`
	State         string  `json:"state"`
	RecvQ         *uint64 `json:"recv_q,omitempty"`
	SendQ         *uint64 `json:"send_q,omitempty"`
	UID           *int64  `json:"uid,omitempty"`
	User          string  `json:"user,omitempty"`
	Inode         uint64  `json:"inode"`
	PID           int     `json:"pid,omitempty"`
	Program       string  `json:"program,omitempty"`
	OwnerSource   string  `json:"owner_source,omitempty"` // "fd", or how a TIME_WAIT row's owner is known
	// The owner's cgroup, container, pod and unit: present on every row
	// of bpfnetstat -p --json ("" when unknown), absent otherwise.
	Cgroup      *string    `json:"cgroup,omitempty"`
	ContainerID *string    `json:"container_id,omitempty"`
	PodUID      *string    `json:"pod_uid,omitempty"`
	Unit        *string    `json:"unit,omitempty"`
	Timer       *TimerJSON `json:"timer,omitempty"`
	// UNIX sockets.
	RefCount *uint64  `json:"refcnt,omitempty"`
	Flags    []string `json:"flags,omitzero"` // [] when none; absent for Internet sockets
	Type     string   `json:"type,omitempty"`
	Path     *string  `json:"path,omitempty"`
	// DurationMS is set on rows of connections that opened and closed
	// between two refreshes (-c --recent): how long they lived, as life's
	// duration_ms. Their state is CLOSED.
	DurationMS *float64 `json:"duration_ms,omitempty"`
}

// TimerJSON is an Internet socket's timer (netstat -o).
type TimerJSON struct {
	Name        string  `json:"name"` // off, on, keepalive, timewait, probe, unknown
	Seconds     float64 `json:"seconds"`
	Retransmits uint64  `json:"retransmits"`
	Timeout     int64   `json:"timeout"`
}

// JSONArray streams values as one JSON array: "[]" when empty, otherwise
// "[", one element per line, "]". Every --json snapshot (sockets, routes,
// interfaces, statistics, groups, -M) is written by it.
type JSONArray struct {
	w      io.Writer
	n      int
	err    error
	closed bool
}

// NewJSONArray starts an array on w; nothing is written before the first
// element or Close.
func NewJSONArray(w io.Writer) *JSONArray { return &JSONArray{w: w} }

// Add writes one element.
func (j *JSONArray) Add(v any) error {
	if j.err != nil {
		return j.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = err
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	if _, j.err = io.WriteString(j.w, sep); j.err != nil {
		return j.err
	}
	_, j.err = j.w.Write(b)
	return j.err
}

// Close ends the array; a second Close writes nothing.
func (j *JSONArray) Close() error {
	if j.closed || j.err != nil {
		return j.err
	}
	j.closed = true
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, j.err = io.WriteString(j.w, end)
	return j.err
}

// JSONWriter streams a socket listing (and -g's memberships) as one JSON
// array.
type JSONWriter struct {
	arr JSONArray
	c   *Classic
}

// NewJSONWriter starts an array on w. c supplies the names, owners and the
// numeric-users choice; its -a/-l filters are the caller's business.
func NewJSONWriter(w io.Writer, c *Classic) *JSONWriter {
	return &JSONWriter{arr: JSONArray{w: w}, c: c}
}

// Socket writes one socket.
func (j *JSONWriter) Socket(s *snapshot.Socket) error {
	if j.arr.err != nil {
		return j.arr.err
	}
	return j.arr.Add(j.c.socketJSON(s))
}

// Ghost writes a connection that lived between two refreshes.
func (j *JSONWriter) Ghost(s *snapshot.Socket, owner *snapshot.Owner, lifetimeMs float64) error {
	saved := j.c.owners
	j.c.owners = fixedOwner{owner}
	row := j.c.socketJSON(s)
	j.c.owners = saved
	row.State = "CLOSED"
	row.Timer = nil
	row.DurationMS = &lifetimeMs
	return j.arr.Add(row)
}

// Close ends the array.
func (j *JSONWriter) Close() error { return j.arr.Close() }

// jsonAddr is an address in JSON: Go's standard text (IPv6 compressed,
// IPv4-mapped as ::ffff:a.b.c.d), "" for none.
func jsonAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (c *Classic) socketJSON(s *snapshot.Socket) SocketJSON {
	out := SocketJSON{Protocol: s.Proto.String(), Family: s.Family.String(), Inode: s.Inode}
	if ow, ok := c.ownerOf(s); ok {
		out.PID = ow.PID
		out.Program = Escape(ow.Name)
		out.OwnerSource = ow.Source
		if out.OwnerSource == "" {
			out.OwnerSource = "fd"
		}
	}
	if c.opt.Identity != nil {
		id := c.identityOf(s)
		p, u := Escape(id.Path), Escape(id.Unit)
		out.Cgroup, out.ContainerID, out.PodUID, out.Unit = &p, &id.ContainerID, &id.PodUID, &u
	}
	if s.Proto == snapshot.ProtoUnix {
		rc, path := s.RefCount, Escape(s.Path)
		out.RefCount = &rc
		out.Path = &path
		out.Type = unixTypeName(s.Type)
		out.Flags = []string{}
		out.State = unixStateName(s)
		if out.State == "" {
			out.State = "UNCONNECTED"
		}
		for _, f := range []struct {
			bit  uint64
			name string
		}{{unixAcceptCon, "ACC"}, {unixWaitData, "W"}, {unixNoSpace, "N"}} {
			if s.Flags&f.bit != 0 {
				out.Flags = append(out.Flags, f.name)
			}
		}
		return out
	}
	lp, rp := s.Local.Port(), s.Remote.Port()
	rq, sq, uid := s.RxQueue, s.TxQueue, s.UID
	out.LocalAddress, out.LocalPort = s.Local.Addr().String(), &lp
	out.RemoteAddress, out.RemotePort = s.Remote.Addr().String(), &rp
	out.RecvQ, out.SendQ, out.UID = &rq, &sq, &uid
	switch s.Proto {
	case snapshot.ProtoTCP:
		out.State = conn.State(s.State).String()
	case snapshot.ProtoRaw:
		out.State = "RAW" // netstat prints the number; JSON names it
	default:
		switch s.State {
		case 1:
			out.State = "ESTABLISHED"
		case 7:
			out.State = "UNCONNECTED"
		default:
			out.State = "UNKNOWN"
		}
	}
	if !c.opt.NumericUsers {
		out.User, _ = c.names.User(s.UID)
	}
	out.Timer = &TimerJSON{Name: timerName(s), Retransmits: s.Retransmits, Timeout: s.Timeout}
	if s.TimerCode != 0 {
		div := float64(100)
		if s.Proto == snapshot.ProtoTCP {
			div = float64(c.opt.ClockTicks)
		}
		out.Timer.Seconds = float64(s.TimerWhen) / div
	}
	return out
}

func timerName(s *snapshot.Socket) string {
	switch s.TimerCode {
	case 0:
		return "off"
	case 1:
		return "on"
	case 2:
		if s.Proto == snapshot.ProtoTCP {
			return "keepalive"
		}
		return "on"
	case 3:
		if s.Proto == snapshot.ProtoTCP {
			return "timewait"
		}
	case 4:
		if s.Proto == snapshot.ProtoTCP {
			return "probe"
		}
	}
	return "unknown"
}
