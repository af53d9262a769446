package output

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
)

// ConnJSON holds the fields trace and life lines share.
type ConnJSON struct {
	Time   string `json:"time"`
	PID    uint32 `json:"pid"`
	TID    uint32 `json:"tid"`
	UID    uint32 `json:"uid"`
	Comm   string `json:"comm"`
	Family string `json:"family"`
	LAddr  string `json:"laddr"`
	LPort  uint16 `json:"lport"`
	RAddr  string `json:"raddr"`
	RPort  uint16 `json:"rport"`
	// The owner's cgroup (relative to the cgroup2 root, "/" for the root)
	// and what it says: container, Kubernetes pod, systemd unit; "" when
	// unknown or not applicable.
	Cgroup      string `json:"cgroup"`
	ContainerID string `json:"container_id"`
	PodUID      string `json:"pod_uid"`
	Unit        string `json:"unit"`
}

// TraceJSON is one state transition as a JSON line (bpfnetstat trace --json).
type TraceJSON struct {
	ConnJSON
	OldState    string  `json:"old_state"`
	NewState    string  `json:"new_state"`
	MS          float64 `json:"ms"` // time spent in old_state
	Direction   string  `json:"direction"`
	OwnerSource string  `json:"owner_source"`
	Error       string  `json:"error,omitempty"` // on the line that closed a failed connection
	Cookie      uint64  `json:"cookie"`
	NetNS       uint32  `json:"netns"`
}

// LifeJSON is one finished connection as a JSON line (bpfnetstat life --json).
type LifeJSON struct {
	ConnJSON            // time is when it closed
	Direction   string  `json:"direction"`
	TxBytes     uint64  `json:"tx_bytes"`
	RxBytes     uint64  `json:"rx_bytes"`
	DurationMS  float64 `json:"duration_ms"`
	OwnerSource string  `json:"owner_source"`
	Retransmits uint32  `json:"retransmits"`
	SRTTus      uint32  `json:"srtt_us"`
	Error       string  `json:"error,omitempty"`
	Cookie      uint64  `json:"cookie"`
	NetNS       uint32  `json:"netns"`
}

// appendConn appends the opening brace and the fields of ConnJSON, in
// its order.
func (e *EventWriter) appendConn(b []byte, c *conn.Conn, monoNs uint64) []byte {
	b = append(b, `{"time":"`...)
	b = e.times.append(b, e.wall(monoNs))
	b = append(b, `","pid":`...)
	b = appendUint(b, uint64(c.Owner.PID))
	b = append(b, `,"tid":`...)
	b = appendUint(b, uint64(c.Owner.TID))
	b = append(b, `,"uid":`...)
	b = appendUint(b, uint64(c.Owner.UID))
	b = append(b, `,"comm":`...)
	b = appendText(b, c.Owner.Comm)
	b = append(b, `,"family":`...)
	b = appendName(b, c.Family.String())
	b = append(b, `,"laddr":`...)
	b = appendAddr(b, c.Local.Addr())
	b = append(b, `,"lport":`...)
	b = appendUint(b, uint64(c.Local.Port()))
	b = append(b, `,"raddr":`...)
	b = appendAddr(b, c.Remote.Addr())
	b = append(b, `,"rport":`...)
	b = appendUint(b, uint64(c.Remote.Port()))
	if id := c.Owner.Ident; id != nil {
		b = append(b, `,"cgroup":`...)
		b = appendText(b, id.Path)
		b = append(b, `,"container_id":`...)
		b = appendJSONString(b, id.ContainerID)
		b = append(b, `,"pod_uid":`...)
		b = appendJSONString(b, id.PodUID)
		b = append(b, `,"unit":`...)
		b = appendText(b, id.Unit)
	} else {
		b = append(b, `,"cgroup":"","container_id":"","pod_uid":"","unit":""`...)
	}
	return b
}

// IdentityHeader is the header of the identity columns (--identity).
const IdentityHeader = "CONTAINER    POD                                  UNIT                     CGROUP"

// IdentityText is an owner's identity as the text views' last columns:
// the container id's first 12 digits, the pod UID, the unit and the
// cgroup path, "-" for each that is unknown.
func IdentityText(id cgroups.Identity) string {
	cid := id.ContainerID
	if len(cid) > 12 {
		cid = cid[:12]
	}
	return fmt.Sprintf("%-12s %-36s %-24s %s", dash(cid), dash(id.PodUID), dash(Escape(id.Unit)), dash(Escape(id.Path)))
}

// writeLine closes the line in b (e.buf's array, kept for the next) and
// writes it.
func (e *EventWriter) writeLine(b []byte) error {
	b = append(b, '}', '\n')
	e.buf = b
	_, err := e.W.Write(b)
	return err
}

// EventWriter renders tracer output: trace and life lines, text or JSON.
type EventWriter struct {
	W io.Writer
	// JSON selects JSON lines.
	JSON bool
	// NetNS adds a netns column (--all-namespaces).
	NetNS bool
	// Identity adds the owner's container, pod, unit and cgroup columns
	// to the text lines (--identity); JSON lines always have them.
	Identity bool
	// WallOffsetNs converts monotonic event times to wall-clock time.
	WallOffsetNs int64
	buf          []byte
	times        timeText
}

func (e *EventWriter) wall(monoNs uint64) time.Time {
	return time.Unix(0, int64(monoNs)+e.WallOffsetNs)
}

func addrText(a netip.Addr) string {
	return a.Unmap().String()
}

// TraceHeader is the column header of trace's text output.
func (e *EventWriter) TraceHeader() {
	if e.JSON {
		return
	}
	h := fmt.Sprintf("%-15s %-7s %-16s %-39s %-5s %-39s %-5s %-11s    %-11s %9s %-8s %s", "TIME", "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE", "NEWSTATE", "MS", "OWNER", "ERROR")
	if e.NetNS {
		h += " NETNS"
	}
	if e.Identity {
		h += " " + IdentityHeader
	}
	io.WriteString(e.W, h+"\n")
}

// Trace writes one transition.
func (e *EventWriter) Trace(tr *conn.Transition) error {
	c := &tr.Conn
	failure := ""
	if tr.NewlyDone {
		failure = c.Failure()
	}
	if e.JSON {
		b := e.appendConn(e.buf[:0], c, tr.TimeNs)
		b = append(b, `,"old_state":`...)
		b = appendName(b, tr.OldState.String())
		b = append(b, `,"new_state":`...)
		b = appendName(b, tr.NewState.String())
		b = append(b, `,"ms":`...)
		b = appendMillis(b, tr.InOldNs)
		b = append(b, `,"direction":`...)
		b = appendName(b, c.Direction.String())
		b = append(b, `,"owner_source":`...)
		b = appendName(b, c.OwnerSource.String())
		if failure != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, failure)
		}
		b = append(b, `,"cookie":`...)
		b = appendUint(b, c.Cookie)
		b = append(b, `,"netns":`...)
		b = appendUint(b, uint64(c.NetNS))
		return e.writeLine(b)
	}
	line := fmt.Sprintf("%-15s %-7s %-16s %-39s %-5d %-39s %-5d %-11s -> %-11s %9.3f %-8s %s",
		e.wall(tr.TimeNs).Format("15:04:05.000000"), pidText(c.Owner.PID), Escape(c.Owner.Comm),
		addrText(c.Local.Addr()), c.Local.Port(), addrText(c.Remote.Addr()), c.Remote.Port(),
		tr.OldState.String(), tr.NewState.String(), float64(tr.InOldNs)/1e6, c.OwnerSource, dash(failure))
	if e.NetNS {
		line += " " + strconv.FormatUint(uint64(c.NetNS), 10)
	}
	if e.Identity {
		line += " " + IdentityText(c.Owner.Identity())
	}
	_, err := io.WriteString(e.W, line+"\n")
	return err
}

func pidText(pid uint32) string {
	if pid == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(pid), 10)
}

// LifeHeader is the column header of life's text output.
func (e *EventWriter) LifeHeader() {
	if e.JSON {
		return
	}
	h := fmt.Sprintf("%-7s %-16s %-39s %-5s %-39s %-5s %-7s %10s %10s %10s %-8s %s", "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "DIR", "TX_BYTES", "RX_BYTES", "MS", "OWNER", "ERROR")
	if e.NetNS {
		h += " NETNS"
	}
	if e.Identity {
		h += " " + IdentityHeader
	}
	io.WriteString(e.W, h+"\n")
}

// Life writes one finished connection.
func (e *EventWriter) Life(c *conn.Conn) error {
	durNs := c.DurationNs(c.CloseNs)
	errText := c.Failure()
	if e.JSON {
		b := e.appendConn(e.buf[:0], c, c.CloseNs)
		b = append(b, `,"direction":`...)
		b = appendName(b, c.Direction.String())
		b = append(b, `,"tx_bytes":`...)
		b = appendUint(b, c.TxBytes)
		b = append(b, `,"rx_bytes":`...)
		b = appendUint(b, c.RxBytes)
		b = append(b, `,"duration_ms":`...)
		b = appendMillis(b, durNs)
		b = append(b, `,"owner_source":`...)
		b = appendName(b, c.OwnerSource.String())
		b = append(b, `,"retransmits":`...)
		b = appendUint(b, uint64(c.Retransmits))
		b = append(b, `,"srtt_us":`...)
		b = appendUint(b, uint64(c.SRTTus))
		if errText != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, errText)
		}
		b = append(b, `,"cookie":`...)
		b = appendUint(b, c.Cookie)
		b = append(b, `,"netns":`...)
		b = appendUint(b, uint64(c.NetNS))
		return e.writeLine(b)
	}
	line := fmt.Sprintf("%-7s %-16s %-39s %-5d %-39s %-5d %-7s %10d %10d %10.3f %-8s %s",
		pidText(c.Owner.PID), Escape(c.Owner.Comm), addrText(c.Local.Addr()), c.Local.Port(),
		addrText(c.Remote.Addr()), c.Remote.Port(), c.Direction, c.TxBytes, c.RxBytes, float64(durNs)/1e6, c.OwnerSource, dash(errText))
	if e.NetNS {
		line += " " + strconv.FormatUint(uint64(c.NetNS), 10)
	}
	if e.Identity {
		line += " " + IdentityText(c.Owner.Identity())
	}
	_, err := io.WriteString(e.W, line+"\n")
	return err
}

// dash is s, or "-" for nothing, so that text columns never go empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
