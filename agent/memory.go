package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// DefaultSocket is where the agent serves owner look-ups.
const DefaultSocket = "/run/bpfnetstat/agent.sock"

// OwnerQuery asks for one connection's owner: by socket cookie, or (when
// Cookie is 0) by its local and remote address.
type OwnerQuery struct {
	Cookie uint64         `json:"cookie,omitempty"`
	Local  netip.AddrPort `json:"local,omitzero"`
	Remote netip.AddrPort `json:"remote,omitzero"`
}

// OwnerAnswer is what the agent knows of a connection; Found is false
// when it knows nothing (never seen, or forgotten).
type OwnerAnswer struct {
	Found       bool           `json:"found"`
	Cookie      uint64         `json:"cookie,omitempty"`
	Local       netip.AddrPort `json:"local,omitzero"`
	Remote      netip.AddrPort `json:"remote,omitzero"`
	NetNS       uint32         `json:"netns,omitempty"`
	PID         uint32         `json:"pid,omitempty"`
	TID         uint32         `json:"tid,omitempty"`
	UID         uint32         `json:"uid,omitempty"`
	Comm        string         `json:"comm,omitempty"`
	OwnerSource string         `json:"owner_source,omitempty"`
	Direction   string         `json:"direction,omitempty"`
	Closed      bool           `json:"closed,omitempty"`
	ViaTimeWait bool           `json:"via_time_wait,omitempty"`
	// CloseUnixNs is when it closed (wall clock), 0 while open.
	CloseUnixNs int64 `json:"close_unix_ns,omitempty"`
}

// Process is the answer's owner in the conn model.
func (a *OwnerAnswer) Process() conn.Process {
	return conn.Process{PID: a.PID, TID: a.TID, UID: a.UID, Comm: a.Comm}
}

func answerOf(c *conn.Conn) OwnerAnswer {
	a := OwnerAnswer{Found: true, Cookie: c.Cookie, Local: c.Local, Remote: c.Remote, NetNS: c.NetNS,
		PID: c.Owner.PID, TID: c.Owner.TID, UID: c.Owner.UID, Comm: c.Owner.Comm,
		OwnerSource: c.OwnerSource.String(), Direction: c.Direction.String(), Closed: c.Closed, ViaTimeWait: c.ViaTimeWait}
	return a
}

type lookupRequest struct {
	Queries []OwnerQuery `json:"queries"`
}

type lookupResponse struct {
	Answers []OwnerAnswer `json:"answers"`
	Error   string        `json:"error,omitempty"`
}

// MaxQueries bounds one request.
const MaxQueries = 1 << 20

// ServeOwners serves look-ups on a unix socket at path, readable and
// writable by root only: the directory is made 0700, the socket 0600, and
// each peer's credentials are checked (uid 0). lookup answers a batch. The
// returned listener's Close stops serving and removes the socket.
func ServeOwners(path string, lookup func([]OwnerQuery) []OwnerAnswer) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// A socket left by an agent that died: nobody answers it.
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another agent is serving it", path)
	}
	os.Remove(path)
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveOwnerConn(c.(*net.UnixConn), lookup)
		}
	}()
	return l, nil
}

func serveOwnerConn(c *net.UnixConn, lookup func([]OwnerQuery) []OwnerAnswer) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if uid, err := peerUID(c); err != nil || uid != 0 {
		json.NewEncoder(c).Encode(lookupResponse{Error: "only root may ask the agent"})
		return
	}
	var req lookupRequest
	dec := json.NewDecoder(bufio.NewReader(c))
	if err := dec.Decode(&req); err != nil {
		json.NewEncoder(c).Encode(lookupResponse{Error: "bad request: " + err.Error()})
		return
	}
	if len(req.Queries) > MaxQueries {
		json.NewEncoder(c).Encode(lookupResponse{Error: fmt.Sprintf("at most %d queries per request", MaxQueries)})
		return
	}
	w := bufio.NewWriter(c)
	json.NewEncoder(w).Encode(lookupResponse{Answers: lookup(req.Queries)})
	w.Flush()
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}

// ErrNoAgent is returned by Lookup when no agent serves the socket.
var ErrNoAgent = errors.New("no bpfnetstat agent")

// Lookup asks the agent serving path (DefaultSocket when "") for the
// owners of connections, one answer per query in order. Without an agent
// it returns ErrNoAgent at once, so a view can go on as it would without.
func Lookup(path string, q []OwnerQuery) ([]OwnerAnswer, error) {
	if path == "" {
		path = DefaultSocket
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, ErrNoAgent
		}
		return nil, fmt.Errorf("%w: %v", ErrNoAgent, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	w := bufio.NewWriter(c)
	if err := json.NewEncoder(w).Encode(lookupRequest{Queries: q}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	var resp lookupResponse
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading the agent's answer: %w", err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("agent: %s", resp.Error)
	}
	if len(resp.Answers) != len(q) {
		return nil, fmt.Errorf("agent: %d answers to %d queries", len(resp.Answers), len(q))
	}
	return resp.Answers, nil
}

// LookupTuples asks the agent serving path (DefaultSocket when "") for
// the owners of connections by local and remote address (TIME_WAIT rows
// have no inode and /proc shows no cookie); the map holds those it knows.
func LookupTuples(path string, tuples [][2]netip.AddrPort) (map[[2]netip.AddrPort]OwnerAnswer, error) {
	q := make([]OwnerQuery, len(tuples))
	for i, t := range tuples {
		q[i] = OwnerQuery{Local: t[0], Remote: t[1]}
	}
	ans, err := Lookup(path, q)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]netip.AddrPort]OwnerAnswer, len(ans))
	for i, a := range ans {
		if a.Found {
			out[tuples[i]] = a
		}
	}
	return out, nil
}
