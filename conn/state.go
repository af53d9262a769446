package conn

// State is a TCP state as the kernel numbers it (include/net/tcp_states.h).
// bpf/core.h declares the same numbers for the BPF programs; a test in
// tracer checks that the two agree.
type State uint8

// TCP states.
const (
	TCPEstablished State = 1
	TCPSynSent     State = 2
	TCPSynRecv     State = 3
	TCPFinWait1    State = 4
	TCPFinWait2    State = 5
	TCPTimeWait    State = 6
	TCPClose       State = 7
	TCPCloseWait   State = 8
	TCPLastAck     State = 9
	TCPListen      State = 10
	TCPClosing     State = 11
)

// stateNames are netstat's names, indexed by state.
var stateNames = [...]string{
	"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
}

// String is netstat's name of the state ("ESTABLISHED", "TIME_WAIT", ...):
// empty for 0, "UNKNOWN" past TCP_CLOSING, as netstat prints them.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}
