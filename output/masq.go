package output

import (
	"net/netip"
	"strconv"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// MasqHeader is what netstat -M prints before its rows (masq_info.c): the
// title and the column header, with -e the sequence columns.
func MasqHeader(extend bool) []byte {
	if extend {
		return []byte("IP masquerading entries\n" +
			"prot   expire    initseq delta prevd source               destination          ports\n")
	}
	return []byte("IP masquerading entries\n" +
		"prot   expire source               destination          ports\n")
}

// MasqRow appends one row of netstat -M (print_masq) to b: protocol L4,
// expiry as MINUTES:SS.hh (minutes R3), with -e the initial sequence R10,
// delta R5 and previous delta R5 (or "-" when hasPDelta is false), source
// and destination L20, then "SPORT -> DPORT (MPORT)" with service names
// for tcp and udp unless NumericPorts.
func (c *Classic) MasqRow(b []byte, m *snapshot.Masq, extend, hasPDelta bool) []byte {
	b = appendLeft(b, m.Proto, 4)
	b = appendRightInt(b, int64(m.Expires/6000), 3)
	b = append(b, ':')
	b = appendZero2(b, (m.Expires/100)%60)
	b = append(b, '.')
	b = appendZero2(b, m.Expires%100)
	b = append(b, ' ')
	if extend {
		b = appendRightUint(b, m.InitSeq, 10)
		b = append(b, ' ')
		b = appendRightInt(b, int64(m.Delta), 5)
		b = append(b, ' ')
		if hasPDelta {
			b = appendRightInt(b, int64(m.PDelta), 5)
			b = append(b, ' ')
		} else {
			b = append(b, "    - "...)
		}
	}
	b = appendLeft(b, Escape(routeCut(c.masqHost(m.Src), 127)), 20)
	b = append(b, ' ')
	b = appendLeft(b, Escape(routeCut(c.masqHost(m.Dst), 127)), 20)
	b = append(b, ' ')
	b = append(b, c.masqPort(m.SPort, m.Proto)...)
	b = append(b, " -> "...)
	b = append(b, c.masqPort(m.DPort, m.Proto)...)
	b = append(b, " ("...)
	b = append(b, c.masqPort(m.MPort, m.Proto)...)
	b = append(b, ")\n"...)
	return b
}

// masqHost is INET_sprint (INET6_sprint for IPv6 conntrack entries) with
// netstat's --numeric-hosts.
func (c *Classic) masqHost(a netip.Addr) string {
	var b []byte
	return string(c.appendHost(b, a))
}

// masqPort is get_sname: "*" for 0, the service name of the tcp or udp
// list unless numeric, else the number.
func (c *Classic) masqPort(port uint16, proto string) string {
	if port == 0 {
		return "*"
	}
	if !c.opt.NumericPorts && (proto == "tcp" || proto == "udp") {
		if name, ok := c.names.Service(port, proto); ok {
			return name
		}
	}
	return strconv.FormatUint(uint64(port), 10)
}

func appendZero2(b []byte, v uint64) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, v, 10)
}

// MasqJSON is the stable machine form of one masqueraded connection.
// Addresses and ports are numeric.
type MasqJSON struct {
	Protocol        string  `json:"protocol"`
	Family          string  `json:"family"`
	ExpiresSeconds  float64 `json:"expires_seconds"`
	Source          string  `json:"saddr"`
	SourcePort      uint16  `json:"sport"`
	Destination     string  `json:"daddr"`
	DestinationPort uint16  `json:"dport"`
	MasqPort        uint16  `json:"mport"`
	InitSeq         uint64  `json:"initseq"`
	Delta           int16   `json:"delta"`
	PrevDelta       *int16  `json:"prevd,omitempty"`
	// From conntrack: which side was translated ("snat", "dnat"), the
	// reply direction as the kernel tracks it, and the protocol state.
	NAT                  []string `json:"nat,omitzero"`
	ReplySource          string   `json:"reply_saddr,omitempty"`
	ReplySourcePort      *uint16  `json:"reply_sport,omitempty"`
	ReplyDestination     string   `json:"reply_daddr,omitempty"`
	ReplyDestinationPort *uint16  `json:"reply_dport,omitempty"`
	State                string   `json:"state,omitempty"`
}

// NewMasqJSON is m's JSON form.
func NewMasqJSON(m *snapshot.Masq, hasPDelta bool) MasqJSON {
	out := MasqJSON{
		Protocol: m.Proto, Family: m.Family.String(), ExpiresSeconds: float64(m.Expires) / 100,
		Source: m.Src.String(), SourcePort: m.SPort, Destination: m.Dst.String(), DestinationPort: m.DPort,
		MasqPort: m.MPort, InitSeq: m.InitSeq, Delta: m.Delta,
	}
	if hasPDelta {
		pd := m.PDelta
		out.PrevDelta = &pd
	}
	if ct := m.Conntrack; ct != nil {
		out.NAT = []string{}
		if ct.SNAT() {
			out.NAT = append(out.NAT, "snat")
		}
		if ct.DNAT() {
			out.NAT = append(out.NAT, "dnat")
		}
		out.ReplySource, out.ReplyDestination = ct.Reply.Src.String(), ct.Reply.Dst.String()
		sp, dp := ct.Reply.SrcPort, ct.Reply.DstPort
		if ct.Proto == 1 || ct.Proto == 58 {
			sp, dp = ct.Reply.ICMPID, 0
		}
		out.ReplySourcePort, out.ReplyDestinationPort = &sp, &dp
		out.State = ct.State
	}
	return out
}
