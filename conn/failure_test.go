package conn

import "testing"

func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		what string
		c    Conn
		want string
	}{
		{"normal active close", Conn{Closed: true, ClosedFrom: TCPFinWait2, Direction: DirActive}, ""},
		{"normal passive close", Conn{Closed: true, ClosedFrom: TCPLastAck, Direction: DirPassive, OwnerSource: OwnerAccept}, ""},
		{"still open", Conn{State: TCPSynSent, ClosedFrom: TCPSynSent}, ""},
		{"listener", Conn{Closed: true, Listener: true, ClosedFrom: TCPListen}, ""},
		{"refused", Conn{Closed: true, ClosedFrom: TCPSynSent, Err: 111}, FailRefused},
		{"timeout", Conn{Closed: true, ClosedFrom: TCPSynSent, Err: 110}, FailTimeout},
		{"host unreachable", Conn{Closed: true, ClosedFrom: TCPSynSent, Err: 113}, FailUnreachable},
		{"net unreachable", Conn{Closed: true, ClosedFrom: TCPSynSent, Err: 101}, FailUnreachable},
		{"reset", Conn{Closed: true, ClosedFrom: TCPEstablished, Err: 104}, FailReset},
		{"reset in CLOSE_WAIT", Conn{Closed: true, ClosedFrom: TCPCloseWait, Err: 32}, FailReset},
		{"aborted", Conn{Closed: true, ClosedFrom: TCPEstablished, Direction: DirPassive, OwnerSource: OwnerAccept}, FailAborted},
		{"not accepted", Conn{Closed: true, ClosedFrom: TCPEstablished, Direction: DirPassive, OwnerSource: OwnerListener}, FailNotAccepted},
		{"not accepted, client FIN first", Conn{Closed: true, ClosedFrom: TCPCloseWait, Direction: DirPassive, OwnerSource: OwnerListener}, FailNotAccepted},
		{"abandoned", Conn{Closed: true, ClosedFrom: TCPSynSent, Direction: DirActive}, FailAbandoned},
		{"other errno", Conn{Closed: true, ClosedFrom: TCPEstablished, Err: 105}, "enobufs"},
		{"unknown errno", Conn{Closed: true, ClosedFrom: TCPEstablished, Err: 4000}, "errno_4000"},
	} {
		if got := tc.c.Failure(); got != tc.want {
			t.Errorf("%s: Failure() = %q, want %q", tc.what, got, tc.want)
		}
	}
}
