package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// bpfnetstat's one netlink dump: open a socket, send one NLM_F_DUMP
// request, walk the reply's messages until the kernel says the dump is over,
// and walk the attributes of each message. sock_diag (EachTCPDiag) and
// ctnetlink (EachConntrackNetlink) both use it; each adds its own socket
// options, request and decoding.

// netlinkSocket opens and binds a netlink socket of protocol proto.
func netlinkSocket(proto int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	return fd, nil
}

// netlinkDump sends req, a whole netlink message asking for a dump, on fd
// and calls fn for every message of the reply, reading it into buf, until
// the dump is over (see eachNetlinkMessage). An error of fn ends the dump
// and is returned as is; an error the kernel sends is a *netlinkError; the
// others say whether sending or receiving failed.
func netlinkDump(fd int, req, buf []byte, fn func(typ uint16, payload []byte) error) error {
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		done, err := eachNetlinkMessage(buf[:n], fn)
		if err != nil || done {
			return err
		}
	}
}

// netlinkError is an error the kernel answered a netlink request with (an
// NLMSG_ERROR message). It formats as the errno does.
type netlinkError struct {
	Errno unix.Errno
}

func (e *netlinkError) Error() string { return e.Errno.Error() }

// Unwrap returns the errno, for errors.Is(err, unix.EPERM) and the like.
func (e *netlinkError) Unwrap() error { return e.Errno }

// errMalformedNetlink is wrapped by the error for a message whose length
// does not fit the datagram.
var errMalformedNetlink = errors.New("malformed netlink message")

// eachNetlinkMessage walks the messages of one datagram of a dump's reply,
// calling fn with the type and payload of each message that is not netlink's
// own. done reports that the dump is over:
//
//   - NLMSG_DONE ends it (netlink_dump_done in net/netlink/af_netlink.c
//     appends it after the last part);
//   - NLMSG_ERROR with a negative errno ends it with that error: the
//     kernel refused the request (netlink_rcv_skb acks it with the error
//     of the family's handler, e.g. ENOENT when inet_diag has no handler for
//     the protocol, EPERM without CAP_NET_ADMIN);
//   - NLMSG_ERROR with errno 0 is not an error but an ACK: netlink_ack()
//     acknowledges a request the kernel handled in full, and nothing
//     follows it for that request. A dump the kernel started sends none
//     (__netlink_dump_start returns -EINTR so that netlink_rcv_skb skips
//     the ack even with NLM_F_ACK) and ends with NLMSG_DONE; if an ACK
//     comes instead, the request got all the answer it will get, so the
//     dump ends, without error and without waiting for a NLMSG_DONE that
//     will not come (a blocking receive would wait for ever).
//
// A message whose length does not fit the datagram is an error; bytes
// after the last whole message are ignored.
func eachNetlinkMessage(b []byte, fn func(typ uint16, payload []byte) error) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return false, fmt.Errorf("%w (length %d of %d)", errMalformedNetlink, l, len(b))
		}
		payload := b[unix.NLMSG_HDRLEN:l]
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(payload) >= 4 {
				if e := int32(ne.Uint32(payload)); e != 0 {
					return true, &netlinkError{Errno: unix.Errno(-e)}
				}
			}
			return true, nil // an ACK
		case unix.NLMSG_NOOP:
		default:
			if err := fn(typ, payload); err != nil {
				return false, err
			}
		}
		b = b[min(len(b), nlAlign(l)):]
	}
	return false, nil
}

// nlAlign rounds a length up to netlink's 4-byte alignment (NLMSG_ALIGN,
// NLA_ALIGN).
func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// nlaTypeMask keeps an attribute's type without the NLA_F_NESTED and
// NLA_F_NET_BYTEORDER flags (NLA_TYPE_MASK).
const nlaTypeMask = 0x3fff

// eachAttr walks netlink attributes (struct nlattr, type without its flags,
// value), nested ones included when fn calls it again on a value. It stops
// at the first attribute whose length does not fit.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) {
	ne := binary.NativeEndian
	for len(b) >= unix.SizeofNlAttr {
		l := int(ne.Uint16(b[0:]))
		typ := ne.Uint16(b[2:]) & nlaTypeMask
		if l < unix.SizeofNlAttr || l > len(b) {
			return
		}
		fn(typ, b[unix.SizeofNlAttr:l])
		b = b[min(len(b), nlAlign(l)):]
	}
}
