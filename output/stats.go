package output

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// netstat -s prints protocol counters with the sentences of net-tools'
// statistics.c. Its tables, their (not always sorted) order, the binary
// search over them and the indentation state that runs across sections are
// reproduced exactly, because all of them show in the output.

// statKind is statistics.c's enum State; it is also the indentation state.
type statKind uint8

const (
	kindNumber  statKind = iota // always printed
	kindOpt                     // printed when not zero
	kindForward                 // Forwarding (static: never printed)
	kindInHist                  // a line of the ICMP input histogram
	kindOutHist                 // a line of the ICMP output histogram
	kindRTO                     // RtoAlgorithm (static: never printed)
)

// indent is states[].indent; i_rto_alg has no entry (0), and never
// becomes the state.
var statIndent = [...]int{kindNumber: 4, kindOpt: 4, kindForward: 4, kindInHist: 8, kindOutHist: 8, kindRTO: 0}

var histTitle = [...]string{kindInHist: "ICMP input histogram:", kindOutHist: "ICMP output histogram:"}

// statEntry is struct entry: the counter name, its sentence ("%llu" stands
// for the value; "" prints nothing), its kind, and the I_STATIC flag.
type statEntry struct {
	name, text string
	kind       statKind
	static     bool
}

// The tables in statistics.c's order (the one bsearch sees).
var (
	ipTab = []statEntry{
		{"DefaultTTL", "Default TTL is %llu", kindNumber, true},
		{"Forwarding", "Forwarding is %s", kindForward, true},
		{"ForwDatagrams", "%llu forwarded", kindNumber, false},
		{"FragCreates", "%llu fragments created", kindOpt, false},
		{"FragFails", "%llu outgoing packets failed fragmentation", kindOpt, false},
		{"FragOKs", "%llu outgoing packets fragmented ok", kindOpt, false},
		{"InAddrErrors", "%llu with invalid addresses", kindOpt, false},
		{"InDelivers", "%llu incoming packets delivered", kindNumber, false},
		{"InDiscards", "%llu incoming packets discarded", kindNumber, false},
		{"InHdrErrors", "%llu with invalid headers", kindOpt, false},
		{"InReceives", "%llu total packets received", kindNumber, false},
		{"InUnknownProtos", "%llu with unknown protocol", kindOpt, false},
		{"OutDiscards", "%llu outgoing packets dropped", kindOpt, false},
		{"OutNoRoutes", "%llu dropped because of missing route", kindOpt, false},
		{"OutRequests", "%llu requests sent out", kindNumber, false},
		{"ReasmFails", "%llu packet reassemblies failed", kindOpt, false},
		{"ReasmOKs", "%llu packets reassembled ok", kindOpt, false},
		{"ReasmReqds", "%llu reassemblies required", kindOpt, false},
		{"ReasmTimeout", "%llu fragments dropped after timeout", kindOpt, false},
	}
	ip6Tab = []statEntry{
		{"Ip6FragCreates", "%llu fragments created", kindOpt, false},
		{"Ip6FragFails", "%llu outgoing packets failed fragmentation", kindOpt, false},
		{"Ip6FragOKs", "%llu outgoing packets fragmented ok", kindOpt, false},
		{"Ip6InAddrErrors", "%llu with invalid addresses", kindOpt, false},
		{"Ip6InDelivers", "%llu incoming packets delivered", kindNumber, false},
		{"Ip6InDiscards", "%llu incoming packets discarded", kindNumber, false},
		{"Ip6InHdrErrors", "%llu with invalid headers", kindOpt, false},
		{"Ip6InMcastPkts", "%llu incoming multicast packets", kindOpt, false},
		{"Ip6InNoRoutes", "%llu incoming packets with no route", kindOpt, false},
		{"Ip6InReceives", "%llu total packets received", kindNumber, false},
		{"Ip6InTooBigErrors", "%llu with packets too big", kindOpt, false},
		{"Ip6InTruncatedPkts", "%llu with truncated packets", kindOpt, false},
		{"Ip6InUnknownProtos", "%llu with unknown protocol", kindOpt, false},
		{"Ip6OutDiscards", "%llu outgoing packets dropped", kindOpt, false},
		{"Ip6OutForwDatagrams", "%llu forwarded", kindNumber, false},
		{"Ip6OutMcastPkts", "%llu outgoing multicast packets", kindOpt, false},
		{"Ip6OutNoRoutes", "%llu dropped because of missing route", kindOpt, false},
		{"Ip6OutRequests", "%llu requests sent out", kindNumber, false},
		{"Ip6ReasmFails", "%llu packet reassemblies failed", kindOpt, false},
		{"Ip6ReasmOKs", "%llu packets reassembled ok", kindOpt, false},
		{"Ip6ReasmReqds", "%llu reassemblies required", kindOpt, false},
		{"Ip6ReasmTimeout", "%llu fragments dropped after timeout", kindOpt, false},
	}
	icmpTab = []statEntry{
		{"InAddrMaskReps", "address mask replies: %llu", kindInHist, false},
		{"InAddrMasks", "address mask request: %llu", kindInHist, false},
		{"InDestUnreachs", "destination unreachable: %llu", kindInHist, false},
		{"InEchoReps", "echo replies: %llu", kindInHist, false},
		{"InEchos", "echo requests: %llu", kindInHist, false},
		{"InErrors", "%llu input ICMP message failed", kindNumber, false},
		{"InMsgs", "%llu ICMP messages received", kindNumber, false},
		{"InParmProbs", "wrong parameters: %llu", kindInHist, false},
		{"InRedirects", "redirects: %llu", kindInHist, false},
		{"InSrcQuenchs", "source quenches: %llu", kindInHist, false},
		{"InTimeExcds", "timeout in transit: %llu", kindInHist, false},
		{"InTimestampReps", "timestamp reply: %llu", kindInHist, false},
		{"InTimestamps", "timestamp request: %llu", kindInHist, false},
		{"OutAddrMaskReps", "address mask replies: %llu", kindOutHist, false},
		{"OutAddrMasks", "address mask requests: %llu", kindOutHist, false},
		{"OutDestUnreachs", "destination unreachable: %llu", kindOutHist, false},
		{"OutEchoReps", "echo replies: %llu", kindOutHist, false},
		{"OutEchos", "echo requests: %llu", kindOutHist, false},
		{"OutErrors", "%llu ICMP messages failed", kindNumber, false},
		{"OutMsgs", "%llu ICMP messages sent", kindNumber, false},
		{"OutParmProbs", "wrong parameters: %llu", kindOutHist, false},
		{"OutRedirects", "redirect: %llu", kindOutHist, false},
		{"OutSrcQuenchs", "source quench: %llu", kindOutHist, false},
		{"OutTimeExcds", "time exceeded: %llu", kindOutHist, false},
		{"OutTimestampReps", "timestamp replies: %llu", kindOutHist, false},
		{"OutTimestamps", "timestamp requests: %llu", kindOutHist, false},
	}
	icmp6Tab = []statEntry{
		{"Icmp6InDestUnreachs", "destination unreachable: %llu", kindInHist, false},
		{"Icmp6InEchoReplies", "echo replies: %llu", kindInHist, false},
		{"Icmp6InEchos", "echo requests: %llu", kindInHist, false},
		{"Icmp6InErrors", "%llu input ICMP message failed", kindNumber, false},
		{"Icmp6InGroupMembQueries", "group member queries: %llu", kindInHist, false},
		{"Icmp6InGroupMembReductions", "group member reductions: %llu", kindInHist, false},
		{"Icmp6InGroupMembResponses", "group member responses: %llu", kindInHist, false},
		{"Icmp6InMsgs", "%llu ICMP messages received", kindNumber, false},
		{"Icmp6InNeighborAdvertisements", "neighbour advertisement: %llu", kindInHist, false},
		{"Icmp6InNeighborSolicits", "neighbour solicits: %llu", kindInHist, false},
		{"Icmp6InParmProblems", "parameter problem: %llu", kindInHist, false},
		{"Icmp6InPktTooBigs", "packets too big: %llu", kindInHist, false},
		{"Icmp6InRedirects", "redirects: %llu", kindInHist, false},
		{"Icmp6InRouterAdvertisements", "router advertisement: %llu", kindInHist, false},
		{"Icmp6InRouterSolicits", "router solicits: %llu", kindInHist, false},
		{"Icmp6InTimeExcds", "received ICMPv6 time exceeded: %llu", kindInHist, false},
		{"Icmp6OutDestUnreachs", "destination unreachable: %llu", kindOutHist, false},
		{"Icmp6OutEchoReplies", "echo replies: %llu", kindOutHist, false},
		{"Icmp6OutEchos", "echo requests: %llu", kindOutHist, false},
		{"Icmp6OutGroupMembQueries", "group member queries: %llu", kindOutHist, false},
		{"Icmp6OutGroupMembReductions", "group member reductions: %llu", kindOutHist, false},
		{"Icmp6OutGroupMembResponses", "group member responses: %llu", kindOutHist, false},
		{"Icmp6OutMsgs", "%llu ICMP messages sent", kindNumber, false},
		{"Icmp6OutNeighborAdvertisements", "neighbor advertisements: %llu", kindOutHist, false},
		{"Icmp6OutNeighborSolicits", "neighbor solicits: %llu", kindOutHist, false},
		{"Icmp6OutParmProblems", "parameter problem: %llu", kindOutHist, false},
		{"Icmp6OutPktTooBigs", "packets too big: %llu", kindOutHist, false},
		{"Icmp6OutRedirects", "redirects: %llu", kindOutHist, false},
		{"Icmp6OutRouterAdvertisements ", "router advertisement: %llu", kindOutHist, false}, // sic: trailing space
		{"Icmp6OutRouterSolicits", "router solicits: %llu", kindOutHist, false},
		{"Icmp6OutTimeExcds", "sent ICMPv6 time exceeded: %llu", kindOutHist, false},
	}
	tcpTab = []statEntry{
		{"ActiveOpens", "%llu active connection openings", kindNumber, false},
		{"AttemptFails", "%llu failed connection attempts", kindNumber, false},
		{"CurrEstab", "%llu connections established", kindNumber, false},
		{"EstabResets", "%llu connection resets received", kindNumber, false},
		{"InErrs", "%llu bad segments received", kindNumber, false},
		{"InSegs", "%llu segments received", kindNumber, false},
		{"MaxConn", "", kindNumber, false},
		{"OutRsts", "%llu resets sent", kindNumber, false},
		{"OutSegs", "%llu segments sent out", kindNumber, false},
		{"PassiveOpens", "%llu passive connection openings", kindNumber, false},
		{"RetransSegs", "%llu segments retransmitted", kindNumber, false},
		{"RtoAlgorithm", "RTO algorithm is %s", kindRTO, true},
		{"RtoMax", "", kindNumber, false},
		{"RtoMin", "", kindNumber, false},
	}
	udpTab = []statEntry{
		{"InDatagrams", "%llu packets received", kindNumber, false},
		{"InErrors", "%llu packet receive errors", kindNumber, false},
		{"NoPorts", "%llu packets to unknown port received", kindNumber, false},
		{"OutDatagrams", "%llu packets sent", kindNumber, false},
		{"RcvbufErrors", "%llu receive buffer errors", kindNumber, false},
		{"SndbufErrors", "%llu send buffer errors", kindNumber, false},
	}
	udp6Tab = []statEntry{
		{"Udp6InDatagrams", "%llu packets received", kindNumber, false},
		{"Udp6InErrors", "%llu packet receive errors", kindNumber, false},
		{"Udp6NoPorts", "%llu packets to unknown port received", kindNumber, false},
		{"Udp6OutDatagrams", "%llu packets sent", kindNumber, false},
	}
	tcpExtTab = []statEntry{
		{"DelayedACKLocked", "%llu delayed acks further delayed because of locked socket", kindOpt, false},
		{"DelayedACKLost", "Quick ack mode was activated %llu times", kindOpt, false},
		{"DelayedACKs", "%llu delayed acks sent", kindOpt, false},
		{"EmbryonicRsts", "%llu resets received for embryonic SYN_RECV sockets", kindOpt, false},
		{"ListenDrops", "%llu SYNs to LISTEN sockets dropped", kindOpt, false},
		{"ListenOverflows", "%llu times the listen queue of a socket overflowed", kindOpt, false},
		{"LockDroppedIcmps", "%llu ICMP packets dropped because socket was locked", kindOpt, false},
		{"OfoPruned", "%llu packets dropped from out-of-order queue because of socket buffer overrun", kindOpt, false},
		{"OutOfWindowIcmps", "%llu ICMP packets dropped because they were out-of-window", kindOpt, false},
		{"PAWSActive", "%llu active connections rejected because of time stamp", kindOpt, false},
		{"PAWSEstab", "%llu packets rejected in established connections because of timestamp", kindOpt, false},
		{"PAWSPassive", "%llu passive connections rejected because of time stamp", kindOpt, false},
		{"PruneCalled", "%llu packets pruned from receive queue because of socket buffer overrun", kindOpt, false},
		{"RcvPruned", "%llu packets pruned from receive queue", kindOpt, false},
		{"SockMallocOOM", "Ran %llu times out of system memory during packet sending", kindOpt, false},
		{"SyncookiesFailed", "%llu invalid SYN cookies received", kindOpt, false},
		{"SyncookiesRecv", "%llu SYN cookies received", kindOpt, false},
		{"SyncookiesSent", "%llu SYN cookies sent", kindOpt, false},
		{"TCPAbortFailed", "%llu times unable to send RST due to no memory", kindOpt, false},
		{"TCPAbortOnClose", "%llu connections reset due to early user close", kindOpt, false},
		{"TCPAbortOnData", "%llu connections reset due to unexpected data", kindOpt, false},
		{"TCPAbortOnLinger", "%llu connections aborted after user close in linger timeout", kindOpt, false},
		{"TCPAbortOnMemory", "%llu connections aborted due to memory pressure", kindOpt, false},
		{"TCPAbortOnSyn", "%llu connections reset due to unexpected SYN", kindOpt, false},
		{"TCPAbortOnTimeout", "%llu connections aborted due to timeout", kindOpt, false},
		{"TCPDirectCopyFromBacklog", "%llu bytes directly in process context from backlog", kindOpt, false},
		{"TCPDirectCopyFromPrequeue", "%llu bytes directly received in process context from prequeue", kindOpt, false},
		{"TCPDSACKOfoRecv", "%llu DSACKs for out of order packets received", kindOpt, false},
		{"TCPDSACKOfoSent", "%llu DSACKs sent for out of order packets", kindOpt, false},
		{"TCPDSACKOldSent", "%llu DSACKs sent for old packets", kindOpt, false},
		{"TCPDSACKRecv", "%llu DSACKs received", kindOpt, false},
		{"TCPDSackUndo", "%llu congestion window recovered without slow start using DSACK", kindOpt, false},
		{"TCPDSACKUndo", "%llu congestion windows recovered without slow start by DSACK", kindOpt, false},
		{"TCPFACKReorder", "Detected reordering %llu times using FACK", kindOpt, false},
		{"TCPFastRetrans", "%llu fast retransmits", kindOpt, false},
		{"TCPForwardRetrans", "%llu forward retransmits", kindOpt, false},
		{"TCPFullUndo", "%llu congestion windows fully recovered without slow start", kindOpt, false},
		{"TCPHPAcks", "%llu predicted acknowledgments", kindOpt, false},
		{"TCPHPHits", "%llu packet headers predicted", kindNumber, false},
		{"TCPHPHitsToUser", "%llu packet headers predicted and directly queued to user", kindOpt, false},
		{"TCPLossFailures", "%llu timeouts in loss state", kindOpt, false},
		{"TCPLoss", "%llu TCP data loss events", kindOpt, false},
		{"TCPLossUndo", "%llu congestion windows recovered without slow start after partial ack", kindOpt, false},
		{"TCPLostRetransmits", "%llu retransmits lost", kindOpt, false},
		{"TCPMemoryPressures", "TCP ran low on memory %llu times", kindOpt, false},
		{"TCPPartialUndo", "%llu congestion windows partially recovered using Hoe heuristic", kindOpt, false},
		{"TCPPrequeued", "%llu packets directly queued to recvmsg prequeue", kindOpt, false},
		{"TCPPrequeueDropped", "%llu packets dropped from prequeue", kindOpt, false},
		{"TCPPureAcks", "%llu acknowledgments not containing data payload received", kindOpt, false},
		{"TCPRcvCollapsed", "%llu packets collapsed in receive queue due to low socket buffer", kindOpt, false},
		{"TCPRenoFailures", "%llu timeouts after reno fast retransmit", kindOpt, false},
		{"TCPRenoRecoveryFailed", "%llu reno fast retransmits failed", kindOpt, false},
		{"TCPRenoRecoveryFail", "%llu classic Reno fast retransmits failed", kindOpt, false},
		{"TCPRenoRecovery", "%llu times recovered from packet loss due to fast retransmit", kindOpt, false},
		{"TCPRenoReorder", "Detected reordering %llu times using reno fast retransmit", kindOpt, false},
		{"TCPSackFailures", "%llu timeouts after SACK recovery", kindOpt, false},
		{"TCPSackRecoveryFail", "%llu SACK retransmits failed", kindOpt, false},
		{"TCPSackRecovery", "%llu times recovered from packet loss by selective acknowledgements", kindOpt, false},
		{"TCPSACKReneging", "%llu bad SACK blocks received", kindOpt, false},
		{"TCPSACKReorder", "Detected reordering %llu times using SACK", kindOpt, false},
		{"TCPSchedulerFailed", "%llu times receiver scheduled too late for direct processing", kindOpt, false},
		{"TCPSlowStartRetrans", "%llu retransmits in slow start", kindOpt, false},
		{"TCPTimeouts", "%llu other TCP timeouts", kindOpt, false},
		{"TCPTSReorder", "Detected reordering %llu times using time stamp", kindOpt, false},
		{"TWKilled", "%llu TCP sockets finished time wait in slow timer", kindOpt, false},
		{"TW", "%llu TCP sockets finished time wait in fast timer", kindOpt, false},
		{"TWRecycled", "%llu time wait sockets recycled by time stamp", kindOpt, false},
	}
	sctpTab = []statEntry{
		{"SctpAborteds", "%llu Number of Aborteds ", kindNumber, false},
		{"SctpActiveEstabs", "%llu Active Associations", kindNumber, false},
		{"SctpChecksumErrors", "%llu Number of Packets with invalid Checksum", kindNumber, false},
		{"SctpCurrEstab", "%llu Current Associations", kindNumber, false},
		{"SctpFragUsrMsgs", "%llu Number of messages fragmented", kindNumber, false},
		{"SctpInCtrlChunks", "%llu Number of control chunks received", kindNumber, false},
		{"SctpInOrderChunks", "%llu Number of ordered chunks received", kindNumber, false},
		{"SctpInSCTPPacks", "%llu Number of SCTP packets received", kindNumber, false},
		{"SctpInUnorderChunks", "%llu Number of Unordered chunks received", kindNumber, false},
		{"SctpOutCtrlChunks", "%llu Number of control chunks sent", kindNumber, false},
		{"SctpOutOfBlues", "%llu Number of Out of Blue packets", kindNumber, false},
		{"SctpOutOrderChunks", "%llu Number of ordered chunks sent", kindNumber, false},
		{"SctpOutSCTPPacks", "%llu Number of SCTP packets sent", kindNumber, false},
		{"SctpOutUnorderChunks", "%llu Number of Unordered chunks sent", kindNumber, false},
		{"SctpPassiveEstabs", "%llu Passive Associations", kindNumber, false},
		{"SctpReasmUsrMsgs", "%llu Number of messages reassembled ", kindNumber, false},
		{"SctpShutdowns", "%llu Number of Graceful Terminations", kindNumber, false},
	}
)

// protoFlag says which of -w, -t, -u, -S turns a known section on.
type protoFlag uint8

const (
	flagRaw protoFlag = iota
	flagTCP
	flagUDP
	flagSCTP
)

// statTable is struct tabtab: a known section title, its table and flag.
type statTable struct {
	title string
	tab   []statEntry
	flag  protoFlag
}

// StatTables selects the known sections: statistics.c's snmptabs or
// snmp6tabs.
type StatTables int

const (
	// StatTablesInet is snmptabs, for /proc/net/snmp, /proc/net/netstat and
	// /proc/net/sctp/snmp.
	StatTablesInet StatTables = iota
	// StatTablesInet6 is snmp6tabs, for /proc/net/snmp6.
	StatTablesInet6
)

var statTables = [...][]statTable{
	StatTablesInet: {
		{"Ip", ipTab, flagRaw}, {"Icmp", icmpTab, flagRaw}, {"Tcp", tcpTab, flagTCP},
		{"Udp", udpTab, flagUDP}, {"Sctp", sctpTab, flagSCTP}, {"TcpExt", tcpExtTab, flagTCP},
	},
	StatTablesInet6: {
		{"Ip6", ip6Tab, flagRaw}, {"Icmp6", icmp6Tab, flagRaw}, {"Udp6", udp6Tab, flagUDP},
		{"Tcp6", tcpTab, flagTCP},
	},
}

// StatsOptions are the protocol switches of netstat -s. With none of
// -t -u -U -w -S given, netstat turns them all on.
type StatsOptions struct {
	Raw, TCP, UDP, SCTP bool
}

// Statistics renders netstat -s section by section. It keeps statistics.c's
// indentation state from one section to the next (and from one file to the
// next), so sections must be given in order to one Statistics.
type Statistics struct {
	on    [4]bool
	state statKind
	buf   []byte
}

// NewStatistics returns a renderer in the initial state.
func NewStatistics(opt StatsOptions) *Statistics {
	return &Statistics{on: [4]bool{flagRaw: opt.Raw, flagTCP: opt.TCP, flagUDP: opt.UDP, flagSCTP: opt.SCTP}}
}

// Shown reports whether a section prints at all: a known section only when
// its protocol is on, any other always.
func (s *Statistics) Shown(tables StatTables, title string) bool {
	if t := lookupTable(tables, title); t != nil {
		return s.on[t.flag]
	}
	return true
}

func lookupTable(tables StatTables, title string) *statTable {
	for i := range statTables[tables] {
		if t := &statTables[tables][i]; t.title == title {
			return t
		}
	}
	return nil
}

// Section renders one section (statistics.c's newtable, then printval for
// each counter) and returns its text, empty for a disabled known section.
func (s *Statistics) Section(tables StatTables, sec *snapshot.StatSection) []byte {
	b := s.buf[:0]
	t := lookupTable(tables, sec.Title)
	if t != nil {
		s.state = kindNumber
		if !s.on[t.flag] {
			s.buf = b
			return b
		}
	}
	b = append(b, sec.Title...)
	b = append(b, ":\n"...)
	for _, c := range sec.Counters {
		var tab []statEntry
		if t != nil {
			tab = t.tab
		}
		b = s.value(b, tab, c.Name, c.Value)
	}
	s.buf = b
	return b
}

// bsearch is glibc's bsearch with strcmp over a table in its given order.
func statBsearch(tab []statEntry, name string) *statEntry {
	l, u := 0, len(tab)
	for l < u {
		i := (l + u) / 2
		switch c := strings.Compare(name, tab[i].name); {
		case c < 0:
			u = i
		case c > 0:
			l = i + 1
		default:
			return &tab[i]
		}
	}
	return nil
}

// value is statistics.c's printval.
func (s *Statistics) value(b []byte, tab []statEntry, name string, v uint64) []byte {
	e := statBsearch(tab, name)
	if e == nil {
		if v != 0 {
			b = appendSpaces(b, statIndent[s.state])
			b = append(b, name...)
			b = append(b, ": "...)
			b = strconv.AppendUint(b, v, 10)
			b = append(b, '\n')
		}
		return b
	}
	if e.static || e.text == "" {
		return b
	}
	kind := e.kind
	if (kind == kindInHist || kind == kindOutHist) && s.state != kind {
		b = appendSpaces(b, statIndent[s.state])
		b = append(b, histTitle[kind]...)
		b = append(b, '\n')
	}
	show := false
	switch kind {
	case kindOpt, kindInHist, kindOutHist:
		show = v != 0
	case kindNumber:
		show = true
	}
	if show {
		b = appendSpaces(b, statIndent[kind])
		before, after, _ := strings.Cut(e.text, "%llu")
		b = append(b, before...)
		b = strconv.AppendUint(b, v, 10)
		b = append(b, after...)
		b = append(b, '\n')
	}
	s.state = kind
	return b
}

// StatSectionJSON is the stable machine form of one statistics section
// (--json): the section title as the kernel names it, the file it came
// from, and its counters by their kernel names in file order.
type StatSectionJSON struct {
	Section  string       `json:"section"`
	File     string       `json:"file"` // snmp, netstat, snmp6, sctp/snmp
	Counters JSONCounters `json:"counters"`
}

// JSONCounters marshals as a JSON object that keeps the kernel's order; a
// name seen again keeps its first value.
type JSONCounters []snapshot.Counter

// MarshalJSON writes {"Name":value,...}.
func (c JSONCounters) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	seen := map[string]bool{}
	for _, x := range c {
		if seen[x.Name] {
			continue
		}
		seen[x.Name] = true
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, err := json.Marshal(x.Name)
		if err != nil {
			return nil, err
		}
		b = append(b, k...)
		b = append(b, ':')
		b = strconv.AppendUint(b, x.Value, 10)
	}
	return append(b, '}'), nil
}

// StatsJSON renders sections as a JSON array (one line per section).
func StatsJSON(secs []StatSectionJSON) []byte {
	var b bytes.Buffer
	arr := NewJSONArray(&b)
	for i := range secs {
		arr.Add(&secs[i])
	}
	arr.Close()
	return b.Bytes()
}
