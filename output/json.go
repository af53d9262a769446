package output

import (
	"encoding/json"
	"io"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// SocketJSON is the stable machine form of one socket row (--json). Field
// names are snake_case and never change meaning; new fields may be added.
// Addresses and ports are always numeric.
type SocketJSON struct {
	Protocol      string     `json:"protocol"` // tcp, udp, udplite, raw, unix
	Family        string     `json:"family"`   // inet, inet6, unix
	LocalAddress  string     `json:"local_address,omitempty"`
	LocalPort     *uint16    `json:"local_port,omitempty"`
	RemoteAddress string     `json:"remote_address,omitempty"`
	RemotePort    *uint16    `json:"remote_port,omitempty"`
	State         string     `json:"state"`
	RecvQ         *uint64    `json:"recv_q,omitempty"`
	SendQ         *uint64    `json:"send_q,omitempty"`
	UID           *int64     `json:"uid,omitempty"`
	User          string     `json:"user,omitempty"`
	Inode         uint64     `json:"inode"`
	PID           int        `json:"pid,omitempty"`
	Program       string     `json:"program,omitempty"`
	OwnerSource   string     `json:"owner_source,omitempty"` // "fd", or how a TIME_WAIT row's owner is known
	Timer         *TimerJSON `json:"timer,omitempty"`
	// UNIX sockets.
	RefCount *uint64  `json:"refcnt,omitempty"`
	Flags    []string `json:"flags,omitempty"`
	Type     string   `json:"type,omitempty"`
	Path     *string  `json:"path,omitempty"`
	// LifetimeMS is set on rows of connections that opened and closed
	// between two refreshes (-c --recent); their state is CLOSED.
	LifetimeMS *float64 `json:"lifetime_ms,omitempty"`
}

// TimerJSON is an Internet socket's timer (netstat -o).
type TimerJSON struct {
	Name        string  `json:"name"` // off, on, keepalive, timewait, probe, unknown
	Seconds     float64 `json:"seconds"`
	Retransmits uint64  `json:"retransmits"`
	Timeout     int64   `json:"timeout"`
}

// JSONWriter streams sockets as one JSON array.
type JSONWriter struct {
	w      io.Writer
	c      *Classic
	n      int
	err    error
	closed bool
}

// NewJSONWriter starts an array on w. c supplies the names, owners and the
// numeric-users choice; its -a/-l filters are the caller's business.
func NewJSONWriter(w io.Writer, c *Classic) *JSONWriter {
	return &JSONWriter{w: w, c: c}
}

// Socket writes one socket.
func (j *JSONWriter) Socket(s *snapshot.Socket) error {
	if j.err != nil {
		return j.err
	}
	return j.write(j.c.socketJSON(s))
}

func (j *JSONWriter) write(row SocketJSON) error {
	if j.err != nil {
		return j.err
	}
	b, err := json.Marshal(row)
	if err != nil {
		j.err = err
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	if _, err := io.WriteString(j.w, sep); err != nil {
		j.err = err
		return err
	}
	_, j.err = j.w.Write(b)
	return j.err
}

// Ghost writes a connection that lived between two refreshes.
func (j *JSONWriter) Ghost(s *snapshot.Socket, owner *snapshot.Owner, lifetimeMs float64) error {
	saved := j.c.owners
	j.c.owners = fixedOwner{owner}
	row := j.c.socketJSON(s)
	j.c.owners = saved
	row.State = "CLOSED"
	row.Timer = nil
	row.LifetimeMS = &lifetimeMs
	return j.write(row)
}

// Close ends the array.
func (j *JSONWriter) Close() error {
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
	if s.Proto == snapshot.ProtoUnix {
		rc, path := s.RefCount, Escape(s.Path)
		out.RefCount = &rc
		out.Path = &path
		out.Type = unixTypeName(s.Type)
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
