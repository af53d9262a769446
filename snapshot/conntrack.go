package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Masq is one masqueraded (NAT-ed) connection as netstat -M shows it:
// masq_info.c's struct masq.
type Masq struct {
	// Proto is the protocol name netstat prints: tcp, udp, icmp, gre, esp
	// or ip in /proc/net/ip_masquerade; from conntrack also icmpv6, sctp,
	// udplite and dccp.
	Proto  string
	Family Family
	// Expires is the time left, in hundredths of a second.
	Expires uint64
	// Src and Dst are the connection's original source and destination,
	// SPort and DPort their ports. MPort is the port the NAT gave it: the
	// translated source port (or, for a connection with only destination
	// NAT, the translated destination port). For ICMP the ports are the
	// echo id (SPort, MPort) and 0.
	Src, Dst            netip.Addr
	SPort, DPort, MPort uint16
	// InitSeq, Delta and PDelta are the TCP sequence adjustment (-e).
	InitSeq       uint64
	Delta, PDelta int16
	// Conntrack is the entry the row was made from; nil when it came from
	// /proc/net/ip_masquerade.
	Conntrack *Conntrack
}

// MasqTable is the whole of netstat -M's data.
type MasqTable struct {
	// HasPDelta says whether the source knows the previous sequence delta
	// (the ip_masquerade header has "PDelta"; netlink conntrack always
	// does). Without it netstat -Me prints "-" in that column.
	HasPDelta bool
	Entries   []Masq
}

// MasqError is one of masq_info's internal errors, printed as
// "FILE: Internal Error `TEXT'." (exit status 255).
type MasqError struct {
	File, Text string
}

func (e *MasqError) Error() string {
	return fmt.Sprintf("%s: Internal Error `%s'.", e.File, e.Text)
}

// ReadMasquerade reads ROOT/net/ip_masquerade (Linux 2.2) as netstat's
// ip_masq_info does: a header line (which may name PDelta), then entries
// read with fscanf, white space (newlines included) separating the
// fields. A failed open is returned as is (an *fs.PathError); a header
// that cannot be read or an entry that does not parse gives a *MasqError,
// and then netstat prints no entry at all.
func (fs FS) ReadMasquerade() (*MasqTable, error) {
	path := fs.Path("net", "ip_masquerade")
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMasquerade(f)
}

func parseMasquerade(r io.Reader) (*MasqTable, error) {
	in := newFgetsReader(r, fgetsMax)
	header, err := in.next(256 - 1) // fgets(buf, 256, f)
	if err != nil {
		return nil, &MasqError{File: "masq_info", Text: "fgets() failed"}
	}
	t := &MasqTable{HasPDelta: bytes.Contains(header, []byte("PDelta"))}
	var rest bytes.Buffer
	for {
		b, err := in.next(fgetsMax)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rest.Write(b)
	}
	format, want := masqFormat, 9
	if t.HasPDelta {
		format, want = masqFormatPDelta, 10
	}
	var vals [10]scanVal
	for b, i := rest.Bytes(), 0; ; {
		var n int
		n, i = cScanf(b, i, format, vals[:])
		if n == -1 {
			return t, nil
		}
		if n != want {
			return nil, &MasqError{File: "masq_info.c", Text: "ip_masquerade format error"}
		}
		m := masqEntry(&vals, t.HasPDelta)
		if m.Proto == "" {
			return nil, &MasqError{File: "masq_info.c", Text: "ip_masquerade unknown type"}
		}
		t.Entries = append(t.Entries, m)
	}
}

// ip_masq_info's fscanf formats, with and without the PDelta column: the
// white space in them skips newlines too, so an entry need not be one
// line.
var (
	masqFormat       = mustScanf(" %s %x:%hX %x:%hX %hX %lX %hd %lu")
	masqFormatPDelta = mustScanf(" %s %x:%hX %x:%hX %hX %lX %hd %hd %lu")
)

// masqEntry makes an entry of one fscanf call's values, each kept as the C
// variable of its conversion keeps it. An unknown type leaves Proto empty;
// netstat checks it only after the count.
func masqEntry(v *[10]scanVal, pdelta bool) Masq {
	m := Masq{
		Proto: masqProtos[string(v[0].str)], Family: FamilyInet,
		Src: be4(uint32(v[1].num)), SPort: uint16(v[2].num),
		Dst: be4(uint32(v[3].num)), DPort: uint16(v[4].num),
		MPort: uint16(v[5].num), InitSeq: v[6].num, Delta: int16(v[7].num),
	}
	k := 8
	if pdelta {
		m.PDelta = int16(v[8].num)
		k++
	}
	m.Expires = v[k].num
	return m
}

var masqProtos = map[string]string{"IP": "ip", "TCP": "tcp", "UDP": "udp", "ICMP": "icmp", "GRE": "gre", "ESP": "esp"}

func be4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ConntrackTuple is one direction of a tracked connection.
type ConntrackTuple struct {
	Src, Dst netip.Addr
	// SrcPort and DstPort are set for TCP, UDP, UDP-Lite, SCTP and DCCP.
	SrcPort, DstPort uint16
	// ICMPType, ICMPCode and ICMPID are set for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	ICMPID             uint16
}

// Conntrack is one entry of the kernel's connection tracking table.
type Conntrack struct {
	Family Family
	// Proto is the IP protocol number, ProtoName conntrack's name for it
	// ("unknown" for protocols without a tracker).
	Proto     uint8
	ProtoName string
	// Timeout is the time left in seconds (none for offloaded entries).
	Timeout    uint32
	HasTimeout bool
	// State is the protocol state (TCP, SCTP, DCCP), e.g. ESTABLISHED.
	State       string
	Orig, Reply ConntrackTuple
	// Status holds the kernel's IPS_* bits; only netlink reports them.
	Status    uint32
	HasStatus bool
	// SeqAdj is the original direction's TCP sequence adjustment (netlink
	// only, when the NAT changed payload lengths).
	SeqAdj *ConntrackSeqAdj
	Mark   uint32
	Zone   uint16
}

// ConntrackSeqAdj is a TCP sequence number adjustment.
type ConntrackSeqAdj struct {
	CorrectionPos uint32
	OffsetBefore  int32
	OffsetAfter   int32
}

// Conntrack status bits (linux/netfilter/nf_conntrack_common.h).
const (
	ipsSeenReply = 1 << 1
	ipsAssured   = 1 << 2
	ipsSrcNAT    = 1 << 4
	ipsDstNAT    = 1 << 5
)

// SNAT reports whether the connection's source was translated.
func (c *Conntrack) SNAT() bool {
	if c.HasStatus {
		return c.Status&ipsSrcNAT != 0
	}
	return c.Reply.Dst != c.Orig.Src || c.Reply.DstPort != c.Orig.SrcPort ||
		(c.isICMP() && c.Reply.ICMPID != c.Orig.ICMPID)
}

// DNAT reports whether the connection's destination was translated.
func (c *Conntrack) DNAT() bool {
	if c.HasStatus {
		return c.Status&ipsDstNAT != 0
	}
	return c.Reply.Src != c.Orig.Dst || c.Reply.SrcPort != c.Orig.DstPort
}

func (c *Conntrack) isICMP() bool { return c.Proto == 1 || c.Proto == 58 }

// Masq is the connection as a netstat -M row, and false when it is not
// NAT-ed.
func (c *Conntrack) Masq() (Masq, bool) {
	snat, dnat := c.SNAT(), c.DNAT()
	if !snat && !dnat {
		return Masq{}, false
	}
	m := Masq{
		Proto: masqProtoName(c), Family: c.Family, Expires: uint64(c.Timeout) * 100,
		Src: c.Orig.Src, Dst: c.Orig.Dst, SPort: c.Orig.SrcPort, DPort: c.Orig.DstPort,
		Conntrack: c,
	}
	switch {
	case c.isICMP():
		m.SPort, m.DPort, m.MPort = c.Orig.ICMPID, 0, c.Reply.ICMPID
	case snat:
		m.MPort = c.Reply.DstPort
	default:
		m.MPort = c.Reply.SrcPort
	}
	if c.SeqAdj != nil {
		m.InitSeq = uint64(c.SeqAdj.CorrectionPos)
		m.Delta = int16(c.SeqAdj.OffsetAfter)
		m.PDelta = int16(c.SeqAdj.OffsetBefore)
	}
	return m, true
}

func masqProtoName(c *Conntrack) string {
	switch c.Proto {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	case 33:
		return "dccp"
	}
	return "ip"
}

// protoNames are conntrack's l4proto names.
var protoNames = map[uint8]string{6: "tcp", 17: "udp", 136: "udplite", 1: "icmp", 58: "icmpv6", 132: "sctp", 33: "dccp", 47: "gre"}

// EachConntrack reads ROOT/net/nf_conntrack (the procfs view of the
// connection tracking table, CONFIG_NF_CONNTRACK_PROCFS) and calls fn for
// every entry, or with a *LineError for a line it cannot read. The
// *Conntrack is reused. A failed open is returned as is.
func (fs FS) EachConntrack(fn func(*Conntrack, *LineError)) error {
	path := fs.Path("net", "nf_conntrack")
	f, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return parseConntrack(f, path, fn)
}

// parseConntrack parses lines that ct_seq_show writes:
//
//	ipv4     2 tcp      6 117 TIME_WAIT src=A dst=B sport=P dport=Q [UNREPLIED] src=B dst=A sport=Q dport=P [ASSURED] mark=0 zone=0 use=2
//
// with optional accounting (packets=, bytes=), zone, secctx, labels and
// timestamp fields, and no timeout for offloaded entries.
func parseConntrack(r io.Reader, path string, fn func(*Conntrack, *LineError)) error {
	lr := newFgetsReader(r, lineBufSize)
	var c Conntrack
	for {
		b, err := lr.next(fgetsMax)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(path, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		c = Conntrack{}
		if field, tok, msg := scanConntrackLine(b, &c); msg != "" {
			fn(nil, &LineError{Path: path, Line: lr.line, Field: field, Token: tok, Msg: msg})
			continue
		}
		fn(&c, nil)
	}
}

func scanConntrackLine(b []byte, c *Conntrack) (field, tok, msg string) {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return "l3proto", string(b), "too few fields"
	}
	switch string(f[0]) {
	case "ipv4":
		c.Family = FamilyInet
	case "ipv6":
		c.Family = FamilyInet6
	default:
		return "l3proto", string(f[0]), "unknown family"
	}
	p, err := strconv.ParseUint(string(f[3]), 10, 8)
	if err != nil {
		return "l4proto", string(f[3]), "invalid protocol number"
	}
	c.Proto, c.ProtoName = uint8(p), string(f[2])
	rest := f[4:]
	if len(rest) > 0 {
		if t, err := strconv.ParseUint(string(rest[0]), 10, 32); err == nil {
			c.Timeout, c.HasTimeout = uint32(t), true
			rest = rest[1:]
		}
	}
	tuples := 0
	var t *ConntrackTuple
	for _, w := range rest {
		key, val, ok := bytes.Cut(w, []byte("="))
		if !ok {
			switch string(w) {
			case "[UNREPLIED]":
			case "[ASSURED]":
				c.Status |= ipsAssured
			default:
				if tuples == 0 && c.State == "" && w[0] != '[' {
					c.State = string(w)
				}
			}
			continue
		}
		k := string(key)
		if k == "src" {
			tuples++
			switch tuples {
			case 1:
				t = &c.Orig
			case 2:
				t = &c.Reply
			default:
				return "src", string(w), "more than two tuples"
			}
		}
		if t == nil {
			continue
		}
		switch k {
		case "src", "dst":
			a, err := netip.ParseAddr(string(val))
			if err != nil {
				return k, string(w), "invalid address"
			}
			if k == "src" {
				t.Src = a
			} else {
				t.Dst = a
			}
		case "sport", "dport", "id":
			v, err := strconv.ParseUint(string(val), 10, 16)
			if err != nil {
				return k, string(w), "invalid number"
			}
			switch k {
			case "sport":
				t.SrcPort = uint16(v)
			case "dport":
				t.DstPort = uint16(v)
			default:
				t.ICMPID = uint16(v)
			}
		case "type", "code":
			v, err := strconv.ParseUint(string(val), 10, 8)
			if err != nil {
				return k, string(w), "invalid number"
			}
			if k == "type" {
				t.ICMPType = uint8(v)
			} else {
				t.ICMPCode = uint8(v)
			}
		case "mark":
			v, _ := strconv.ParseUint(string(val), 10, 32)
			c.Mark = uint32(v)
		case "zone":
			v, _ := strconv.ParseUint(string(val), 10, 16)
			c.Zone = uint16(v)
		}
	}
	if tuples != 2 || !c.Orig.Src.IsValid() || !c.Orig.Dst.IsValid() || !c.Reply.Src.IsValid() || !c.Reply.Dst.IsValid() {
		return "src", "", "missing tuple"
	}
	return "", "", ""
}

// ctnetlink (linux/netfilter/nfnetlink_conntrack.h).
const (
	ipctnlMsgCtGet = 1

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaProtoinfo  = 4
	ctaTimeout    = 7
	ctaMark       = 8
	ctaSeqAdjOrig = 15
	ctaZone       = 18

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum      = 1
	ctaProtoSrcPort  = 2
	ctaProtoDstPort  = 3
	ctaProtoICMPID   = 4
	ctaProtoICMPType = 5
	ctaProtoICMPCode = 6
	ctaProtoICMP6ID  = 7
	ctaProtoICMP6Typ = 8
	ctaProtoICMP6Cod = 9

	ctaProtoinfoTCP      = 1
	ctaProtoinfoTCPState = 1

	ctaSeqAdjCorrectionPos = 1
	ctaSeqAdjOffsetBefore  = 2
	ctaSeqAdjOffsetAfter   = 3
)

// tcpConntrackStates are the names of enum tcp_conntrack.
var tcpConntrackStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// ErrConntrackUnavailable is returned by EachConntrackNetlink when the
// kernel has no ctnetlink or refuses the dump (no CAP_NET_ADMIN).
var ErrConntrackUnavailable = errors.New("conntrack netlink unavailable")

// EachConntrackNetlink dumps the calling thread's network namespace's
// connection tracking table over ctnetlink (IPv4 and IPv6) and calls fn for
// every entry. Unlike /proc/net/nf_conntrack it reports the status bits
// (which side was NAT-ed) and the TCP sequence adjustment. Failures to
// open the socket or dump the table wrap ErrConntrackUnavailable.
func EachConntrackNetlink(fn func(*Conntrack)) error {
	fd, err := netlinkSocket(unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConntrackUnavailable, err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	req := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.NFNL_SUBSYS_CTNETLINK<<8|ipctnlMsgCtGet)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[16] = unix.AF_UNSPEC
	req[17] = unix.NFNETLINK_V0
	var c Conntrack
	err = netlinkDump(fd, req, make([]byte, 1<<16), func(typ uint16, payload []byte) error {
		if typ>>8 != unix.NFNL_SUBSYS_CTNETLINK || len(payload) < 4 {
			return nil
		}
		c = Conntrack{}
		if parseCtnetlink(payload[0], payload[4:], &c) {
			fn(&c)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConntrackUnavailable, err)
	}
	return nil
}

func parseCtnetlink(family byte, attrs []byte, c *Conntrack) bool {
	switch family {
	case unix.AF_INET:
		c.Family = FamilyInet
	case unix.AF_INET6:
		c.Family = FamilyInet6
	default:
		return false
	}
	var haveOrig, haveReply bool
	eachAttr(attrs, func(typ uint16, v []byte) {
		switch typ {
		case ctaTupleOrig:
			haveOrig = parseCtTuple(v, &c.Orig, &c.Proto)
		case ctaTupleReply:
			haveReply = parseCtTuple(v, &c.Reply, nil)
		case ctaStatus:
			if len(v) >= 4 {
				c.Status, c.HasStatus = binary.BigEndian.Uint32(v), true
			}
		case ctaTimeout:
			if len(v) >= 4 {
				c.Timeout, c.HasTimeout = binary.BigEndian.Uint32(v), true
			}
		case ctaMark:
			if len(v) >= 4 {
				c.Mark = binary.BigEndian.Uint32(v)
			}
		case ctaZone:
			if len(v) >= 2 {
				c.Zone = binary.BigEndian.Uint16(v)
			}
		case ctaProtoinfo:
			eachAttr(v, func(typ uint16, v []byte) {
				if typ != ctaProtoinfoTCP {
					return
				}
				eachAttr(v, func(typ uint16, v []byte) {
					if typ == ctaProtoinfoTCPState && len(v) >= 1 && int(v[0]) < len(tcpConntrackStates) {
						c.State = tcpConntrackStates[v[0]]
					}
				})
			})
		case ctaSeqAdjOrig:
			adj := &ConntrackSeqAdj{}
			eachAttr(v, func(typ uint16, v []byte) {
				if len(v) < 4 {
					return
				}
				x := binary.BigEndian.Uint32(v)
				switch typ {
				case ctaSeqAdjCorrectionPos:
					adj.CorrectionPos = x
				case ctaSeqAdjOffsetBefore:
					adj.OffsetBefore = int32(x)
				case ctaSeqAdjOffsetAfter:
					adj.OffsetAfter = int32(x)
				}
			})
			c.SeqAdj = adj
		}
	})
	c.ProtoName = protoNames[c.Proto]
	if c.ProtoName == "" {
		c.ProtoName = "unknown"
	}
	return haveOrig && haveReply
}

func parseCtTuple(b []byte, t *ConntrackTuple, proto *uint8) bool {
	ok := false
	eachAttr(b, func(typ uint16, v []byte) {
		switch typ {
		case ctaTupleIP:
			eachAttr(v, func(typ uint16, v []byte) {
				var a netip.Addr
				switch {
				case (typ == ctaIPv4Src || typ == ctaIPv4Dst) && len(v) == 4:
					a = netip.AddrFrom4([4]byte(v))
				case (typ == ctaIPv6Src || typ == ctaIPv6Dst) && len(v) == 16:
					a = netip.AddrFrom16([16]byte(v))
				default:
					return
				}
				if typ == ctaIPv4Src || typ == ctaIPv6Src {
					t.Src = a
				} else {
					t.Dst = a
				}
				ok = true
			})
		case ctaTupleProto:
			eachAttr(v, func(typ uint16, v []byte) {
				switch {
				case typ == ctaProtoNum && len(v) >= 1:
					if proto != nil {
						*proto = v[0]
					}
				case typ == ctaProtoSrcPort && len(v) >= 2:
					t.SrcPort = binary.BigEndian.Uint16(v)
				case typ == ctaProtoDstPort && len(v) >= 2:
					t.DstPort = binary.BigEndian.Uint16(v)
				case (typ == ctaProtoICMPID || typ == ctaProtoICMP6ID) && len(v) >= 2:
					t.ICMPID = binary.BigEndian.Uint16(v)
				case (typ == ctaProtoICMPType || typ == ctaProtoICMP6Typ) && len(v) >= 1:
					t.ICMPType = v[0]
				case (typ == ctaProtoICMPCode || typ == ctaProtoICMP6Cod) && len(v) >= 1:
					t.ICMPCode = v[0]
				}
			})
		}
	})
	return ok && t.Src.IsValid() && t.Dst.IsValid()
}
