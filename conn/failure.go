package conn

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Failure names, stable and lower-case: the error field of trace and life
// (text and JSON) and the keys of the failure counters.
const (
	FailRefused     = "refused"      // the peer answered the SYN with RST (ECONNREFUSED)
	FailTimeout     = "timeout"      // SYN or data retransmissions ran out (ETIMEDOUT)
	FailUnreachable = "unreachable"  // ICMP host/network unreachable or prohibited
	FailReset       = "reset"        // the peer reset an established connection
	FailAborted     = "aborted"      // this side reset it (SO_LINGER 0, close with unread data)
	FailNotAccepted = "not_accepted" // never accepted; aborted when its listener closed
	FailAbandoned   = "abandoned"    // closed by its owner while still connecting (SYN_SENT)
	FailUnseen      = "unseen"       // freed with no -> CLOSE the tracer saw: how it ended is unknown
)

// Failures lists every failure name above, in a fixed order.
var Failures = []string{FailRefused, FailTimeout, FailUnreachable, FailReset, FailAborted, FailNotAccepted, FailAbandoned, FailUnseen}

// Failure names how a closed connection ended abnormally, "" for a normal
// end (both FINs, or a listener closing). Another socket error than those
// named above is given by its errno name in lower case ("eacces").
func (c *Conn) Failure() string {
	if !c.Closed || c.Listener {
		return ""
	}
	if c.EndUnseen {
		return FailUnseen
	}
	switch unix.Errno(c.Err) {
	case 0:
	case unix.ECONNREFUSED:
		return FailRefused
	case unix.ETIMEDOUT:
		return FailTimeout
	case unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EACCES, unix.EPERM:
		return FailUnreachable
	case unix.ECONNRESET, unix.EPIPE:
		// tcp_reset(): EPIPE for a reset in CLOSE_WAIT, ECONNRESET otherwise.
		if c.ClosedFrom == TCPSynSent {
			return FailRefused
		}
		return FailReset
	default:
		if name := unix.ErrnoName(unix.Errno(c.Err)); name != "" {
			return strings.ToLower(name)
		}
		return "errno_" + strconv.Itoa(int(c.Err))
	}
	switch {
	case c.Direction == DirPassive && c.OwnerSource == OwnerListener:
		return FailNotAccepted
	case c.ClosedFrom == TCPSynSent:
		return FailAbandoned
	case c.ClosedFrom == TCPEstablished, c.ClosedFrom == TCPCloseWait, c.ClosedFrom == TCPSynRecv, c.ClosedFrom == TCPFinWait1:
		// No FIN exchange completed: tcp_close() or tcp_disconnect()
		// moved it straight to CLOSE and sent a reset.
		return FailAborted
	}
	return ""
}
