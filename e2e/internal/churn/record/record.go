// Package record is the JSON-lines format in which the churn workload
// (e2e/internal/churn) tells the tracer tests what it did: which process
// owned which socket, the socket's cookie and 4-tuple, the exact payload
// bytes it moved and who closed first.
package record

// Record types.
const (
	TypeProc = "proc" // a process of the workload and its listeners
	TypeConn = "conn" // one socket of one connection, as its owner saw it
)

// Roles.
const (
	RoleServer   = "server"   // pre-fork parent: listens, never accepts
	RoleAcceptor = "acceptor" // pre-fork child: accepts and serves
	RoleBacklog  = "backlog"  // listens and never accepts
	RoleClient   = "client"   // connects
)

// Connection kinds.
const (
	KindNormal  = "normal"  // served by an acceptor
	KindRefused = "refused" // no listener: the connect fails
	KindBacklog = "backlog" // to the backlog listener: never accepted
)

// Who closes first.
const (
	CloserClient = "client"
	CloserServer = "server"
)

// HeaderLen is the size of the header a client sends first on a normal
// connection; it is part of the sent and received byte counts.
const HeaderLen = 16

// Record is one line of a workload process's output file.
type Record struct {
	Type string `json:"type"`
	Role string `json:"role"`
	PID  int    `json:"pid"`

	// Proc records of listening processes: their ports on 127.0.0.1 and ::1.
	V4Port int `json:"v4_port,omitempty"`
	V6Port int `json:"v6_port,omitempty"`

	// Conn records.
	ID     uint32 `json:"id,omitempty"` // client index << 16 | sequence; 0 for none
	Kind   string `json:"kind,omitempty"`
	Family string `json:"family,omitempty"` // "inet" or "inet6", as bpfnetstat names them
	LAddr  string `json:"laddr,omitempty"`
	LPort  int    `json:"lport,omitempty"` // 0 when the connect failed
	RAddr  string `json:"raddr,omitempty"`
	RPort  int    `json:"rport,omitempty"`
	Cookie uint64 `json:"cookie,omitempty"` // SO_COOKIE
	Sent   int64  `json:"sent"`             // payload bytes written
	Recv   int64  `json:"recv"`             // payload bytes read
	Closer string `json:"closer,omitempty"`
	Err    string `json:"err,omitempty"` // errno name of a failed connect

	// CLOCK_MONOTONIC nanoseconds: before connect (clients) or at accept's
	// return (acceptors); when the connection was open (connect or accept
	// returned); just before close(); just after close().
	StartNs int64 `json:"start_ns,omitempty"`
	OpenNs  int64 `json:"open_ns,omitempty"`
	CloseNs int64 `json:"close_ns,omitempty"`
	EndNs   int64 `json:"end_ns,omitempty"`
}
