package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// The sock_diag (NETLINK_SOCK_DIAG) source: the kernel's binary socket
// dump, several times cheaper than formatting and parsing /proc/net/tcp.
// It fills the same Socket model, plus the socket cookie.
//
// What bpfnetstat takes from it, and why it stays byte-identical to the
// /proc path (the differential suite checks this on every run):
//   - row order: both walk the listening hash, then the established hash
//     (which also holds TIME_WAIT and request sockets), bucket by bucket;
//   - queues: the same expressions as /proc/net/tcp, except that for a
//     listener the diag "wqueue" is sk_max_ack_backlog where /proc prints
//     write_seq - snd_una, always 0: Send-Q of LISTEN rows is set to 0;
//   - timers: the same classification (1 retransmit, 2 keepalive, 3
//     timewait, 4 zero-window probe); expiry comes in ms where /proc gives
//     clock ticks (1/100 s): ticks = ms / 10 for HZ 100, 250 and 1000;
//   - the "retransmits" and "timeout" timer fields are icsk_retransmits and
//     icsk_probes_out, which only tcp_info (INET_DIAG_INFO) carries, so
//     they are asked for when timers are shown.
// UDP, raw and UNIX sockets stay on /proc: their diag queues (UDP's
// forward deficit) and UNIX flags and refcounts do not match netstat's.

const (
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	inetDiagInfo        = 2 // INET_DIAG_INFO: struct tcp_info
	tcpListen           = 10
)

// ErrDiagUnsupported is returned when the kernel has no inet_diag for a
// family/protocol (module not loaded, or not built).
var ErrDiagUnsupported = errors.New("sock_diag: not supported")

// DiagOptions choose what a dump asks the kernel for.
type DiagOptions struct {
	// Timers asks for tcp_info, which carries the retransmit and probe
	// counts of the timer column; it makes the dump a little slower.
	Timers bool
}

var diagBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// EachTCPDiag streams the TCP sockets of one family (FamilyInet or
// FamilyInet6) of the caller's network namespace from sock_diag, in the
// kernel's order. As with EachInet, the *Socket is reused between calls.
func EachTCPDiag(family Family, opt DiagOptions, fn func(s *Socket)) error {
	d, err := OpenDiag()
	if err != nil {
		return err
	}
	defer d.Close()
	return d.EachTCP(family, opt, fn)
}

// Diag is an open sock_diag socket. It answers for the network namespace
// of the thread that opened it, whichever thread dumps through it later,
// which lets one process hold one per namespace.
type Diag struct {
	fd     int
	broken bool // a dump ended early: unread replies may follow
}

// OpenDiag opens a sock_diag socket in the calling thread's network
// namespace.
func OpenDiag() (*Diag, error) {
	fd, err := netlinkSocket(unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	// A bigger receive buffer lets the kernel fill each read further.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return &Diag{fd: fd}, nil
}

// Close closes the socket.
func (d *Diag) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// errDiagBroken is returned by a dump on a socket whose last dump failed.
var errDiagBroken = errors.New("sock_diag: socket unusable after a failed dump")

// EachTCP is EachTCPDiag through d. After a failed dump the socket may
// still hold the rest of that dump's reply: every later dump fails, and
// the caller opens another socket.
func (d *Diag) EachTCP(family Family, opt DiagOptions, fn func(s *Socket)) error {
	if d.broken || d.fd < 0 {
		return errDiagBroken
	}
	req := tcpRequest(family, opt)
	return d.dump(req[:], unix.SOCK_DIAG_BY_FAMILY, family, fn)
}

// tcpRequest is the SOCK_DIAG_BY_FAMILY request (struct inet_diag_req_v2)
// for every TCP socket of one family.
func tcpRequest(family Family, opt DiagOptions) [unix.NLMSG_HDRLEN + sizeofInetDiagReqV2]byte {
	var req [unix.NLMSG_HDRLEN + sizeofInetDiagReqV2]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // seq
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = byte(family)
	r[1] = unix.IPPROTO_TCP
	r[2] = opt.ext()
	ne.PutUint32(r[4:], 0xffffffff) // every state
	return req
}

// ext is the idiag_ext bit mask of the attributes opt asks for.
func (opt DiagOptions) ext() byte {
	if opt.Timers {
		return 1 << (inetDiagInfo - 1)
	}
	return 0
}

// The first inet_diag request (struct inet_diag_req, TCPDIAG_GETSOCK): the
// kernel still answers it, and dumps both families in one walk
// (inet_diag_dump_compat asks for AF_UNSPEC).
const (
	sizeofInetDiagReq = 60
	tcpDiagGetSock    = 18
)

// EachTCPAll is EachTCPBoth without options.
func (d *Diag) EachTCPAll(fn func(s *Socket)) error { return d.EachTCPBoth(DiagOptions{}, fn) }

// EachTCPBoth streams the TCP sockets of both families through d in one
// dump, asking for what opt says as EachTCP does; each socket comes as
// the per-family dump of its family gives it. The kernel walks its
// listening hash, then its established hash, once each, bucket by bucket,
// and keeps the sockets of either family (inet_diag_dump_icsk with
// AF_UNSPEC): all listeners come first, and the sockets of one family come
// in the order of that family's own dump. The established hash is shared
// by every namespace (unless net.ipv4.tcp_child_ehash_entries gives each
// its own) and its walk costs the same however few sockets a namespace
// has, so one dump where EachTCP takes two halves the cost of a listing.
//
// A kernel without the old request answers ErrDiagUnsupported (or
// EINVAL) before any socket: the caller then dumps each family.
func (d *Diag) EachTCPBoth(opt DiagOptions, fn func(s *Socket)) error {
	if d.broken || d.fd < 0 {
		return errDiagBroken
	}
	req := tcpAllRequest(opt)
	return d.dump(req[:], tcpDiagGetSock, 0, fn)
}

// tcpAllRequest is the TCPDIAG_GETSOCK request (struct inet_diag_req) for
// every TCP socket of both families: idiag_family is ignored, idiag_ext
// and idiag_states mean what they mean in inet_diag_req_v2.
func tcpAllRequest(opt DiagOptions) [unix.NLMSG_HDRLEN + sizeofInetDiagReq]byte {
	var req [unix.NLMSG_HDRLEN + sizeofInetDiagReq]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], tcpDiagGetSock)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // seq
	r := req[unix.NLMSG_HDRLEN:]
	r[3] = opt.ext()
	ne.PutUint32(r[52:], 0xffffffff) // idiag_states: every state
	return req
}

// dump sends a dump request and decodes each answer of type typ; family 0
// takes each socket's family from its message.
func (d *Diag) dump(req []byte, typ uint16, family Family, fn func(s *Socket)) error {
	bp := diagBufs.Get().(*[]byte)
	defer diagBufs.Put(bp)
	var (
		s         Socket
		decodeErr error
	)
	err := netlinkDump(d.fd, req, *bp, func(t uint16, body []byte) error {
		if t != typ {
			return nil
		}
		f := family
		if f == 0 && len(body) > 0 {
			if f = Family(body[0]); f != FamilyInet && f != FamilyInet6 {
				return nil
			}
		}
		if decodeErr = decodeInetDiag(body, f, &s); decodeErr != nil {
			return decodeErr
		}
		fn(&s)
		return nil
	})
	if err == nil {
		return nil
	}
	// The kernel's error message ends its reply; anything else may leave
	// the rest of the reply unread.
	var nerr *netlinkError
	d.broken = decodeErr != nil || !errors.As(err, &nerr)
	if decodeErr != nil {
		return decodeErr
	}
	return diagError(err)
}

// diagError names a failed dump: the kernel's ENOENT or EOPNOTSUPP means no
// inet_diag for the family or protocol.
func diagError(err error) error {
	var nerr *netlinkError
	if errors.As(err, &nerr) && (nerr.Errno == unix.ENOENT || nerr.Errno == unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %v", ErrDiagUnsupported, nerr.Errno)
	}
	return fmt.Errorf("sock_diag: %w", err)
}

// decodeInetDiag fills s from one inet_diag_msg and its attributes.
func decodeInetDiag(b []byte, family Family, s *Socket) error {
	if len(b) < sizeofInetDiagMsg {
		return fmt.Errorf("sock_diag: short inet_diag_msg (%d bytes)", len(b))
	}
	ne := binary.NativeEndian
	be := binary.BigEndian
	*s = Socket{Proto: ProtoTCP, Family: family}
	s.State = b[1]
	s.TimerCode = int64(b[2])
	sport, dport := be.Uint16(b[4:]), be.Uint16(b[6:])
	if family == FamilyInet {
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	} else {
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	}
	s.Cookie = uint64(ne.Uint32(b[44:])) | uint64(ne.Uint32(b[48:]))<<32
	expiresMs := ne.Uint32(b[52:])
	s.RxQueue = uint64(ne.Uint32(b[56:]))
	s.TxQueue = uint64(ne.Uint32(b[60:]))
	s.UID = int64(int32(ne.Uint32(b[64:])))
	s.Inode = uint64(ne.Uint32(b[68:]))
	if s.State == tcpListen {
		s.TxQueue = 0 // diag gives sk_max_ack_backlog; /proc write_seq - snd_una
	}
	if s.TimerCode != 0 {
		s.TimerWhen = uint64(expiresMs / 10)
	}
	if s.TimerCode == 1 || s.TimerCode == 3 {
		s.Retransmits = uint64(b[3]) // retransmits; 0 for timewait
	}
	// Attributes: tcp_info for the retransmit and probe counts.
	eachAttr(b[sizeofInetDiagMsg:], func(typ uint16, info []byte) {
		if typ == inetDiagInfo && len(info) >= 4 {
			s.Retransmits = uint64(info[2]) // tcpi_retransmits
			s.Timeout = int64(info[3])      // tcpi_probes
		}
	})
	return nil
}

// EachTCPEither streams every TCP socket of d's namespace, both families:
// in one dump (EachTCPAll), or one per family on a kernel that refuses the
// one dump before any socket. A kernel without IPv6 has no IPv6 sockets.
func (d *Diag) EachTCPEither(fn func(s *Socket)) error {
	err := d.EachTCPAll(fn)
	if err == nil || !errors.Is(err, ErrDiagUnsupported) && !errors.Is(err, unix.EINVAL) {
		return err
	}
	if err := d.EachTCP(FamilyInet, DiagOptions{}, fn); err != nil {
		return err
	}
	if err := d.EachTCP(FamilyInet6, DiagOptions{}, fn); err != nil && !errors.Is(err, ErrDiagUnsupported) {
		return err
	}
	return nil
}
