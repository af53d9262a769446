package conn

import "testing"

func TestStateString(t *testing.T) {
	for _, c := range []struct {
		s    State
		want string
	}{
		{0, ""}, {TCPEstablished, "ESTABLISHED"}, {TCPSynSent, "SYN_SENT"}, {TCPSynRecv, "SYN_RECV"},
		{TCPFinWait1, "FIN_WAIT1"}, {TCPFinWait2, "FIN_WAIT2"}, {TCPTimeWait, "TIME_WAIT"},
		{TCPClose, "CLOSE"}, {TCPCloseWait, "CLOSE_WAIT"}, {TCPLastAck, "LAST_ACK"},
		{TCPListen, "LISTEN"}, {TCPClosing, "CLOSING"}, {12, "UNKNOWN"}, {255, "UNKNOWN"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("State(%d).String() = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestOwnerSourceAndDirectionNames(t *testing.T) {
	for src, want := range map[OwnerSource]string{
		OwnerNone: "unknown", OwnerConnect: "connect", OwnerAccept: "accept", OwnerListener: "listener",
		OwnerClose: "close", OwnerSnapshot: "snapshot", OwnerListen: "listener", 99: "unknown",
	} {
		if got := src.String(); got != want {
			t.Errorf("OwnerSource(%d).String() = %q, want %q", src, got, want)
		}
	}
	for d, want := range map[Direction]string{DirPassive: "passive", DirActive: "active", DirUnknown: "unknown"} {
		if got := d.String(); got != want {
			t.Errorf("Direction(%d).String() = %q, want %q", d, got, want)
		}
	}
}

func TestDurationNs(t *testing.T) {
	c := Conn{BirthNs: 100}
	if got := c.DurationNs(250); got != 150 {
		t.Errorf("open: %d, want 150", got)
	}
	c.Closed, c.CloseNs = true, 180
	if got := c.DurationNs(1000); got != 80 {
		t.Errorf("closed: %d, want 80", got)
	}
	if got := (&Conn{}).DurationNs(1000); got != 0 {
		t.Errorf("unknown birth: %d, want 0", got)
	}
}
