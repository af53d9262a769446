package output

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TestStatTablesReachable checks which rows glibc's bsearch can find in
// statistics.c's tables, several of which are not sorted: the unreachable
// ones print as unknown counters. The list is the spec's (§7.5), worked
// out independently from the tables' order.
func TestStatTablesReachable(t *testing.T) {
	unreachable := map[string][]string{
		"Ip":     {"Forwarding"},
		"TcpExt": {"TCPDirectCopyFromPrequeue", "TCPDSACKOfoRecv", "TCPDSACKOfoSent", "TCPDSACKOldSent", "TCPDSACKRecv", "TCPDSackUndo", "TCPDSACKUndo", "TCPLoss", "TCPPrequeueDropped", "TCPRenoRecoveryFailed", "TCPRenoRecoveryFail", "TCPSackFailures", "TCPSackRecoveryFail", "TCPSackRecovery", "TCPSACKReneging", "TCPTimeouts", "TWKilled"},
		// The table's name has a trailing space: the kernel's never
		// matches it.
		"Icmp6": {"Icmp6OutRouterAdvertisements"},
	}
	for _, set := range statTables {
		for _, tab := range set {
			var got []string
			for _, e := range tab.tab {
				name := strings.TrimSpace(e.name)
				if found := statBsearch(tab.tab, name); found == nil {
					got = append(got, name)
				} else if found.name != name {
					t.Errorf("%s: %s found %s", tab.title, name, found.name)
				}
			}
			if diff := cmp.Diff(unreachable[tab.title], got); diff != "" {
				t.Errorf("%s: unreachable rows (-want +got):\n%s", tab.title, diff)
			}
		}
	}
	if statBsearch(nil, "x") != nil || statBsearch(tcpTab, "Zzz") != nil || statBsearch(tcpTab, "") != nil {
		t.Error("found a name that is in no table")
	}
}

func isSection(title string, pairs ...any) *snapshot.StatSection {
	s := &snapshot.StatSection{Title: title}
	for i := 0; i < len(pairs); i += 2 {
		s.Counters = append(s.Counters, snapshot.Counter{Name: pairs[i].(string), Value: uint64(pairs[i+1].(int))})
	}
	return s
}

func isRender(opt StatsOptions, tables StatTables, secs ...*snapshot.StatSection) string {
	st := NewStatistics(opt)
	var b strings.Builder
	for _, s := range secs {
		b.Write(st.Section(tables, s))
	}
	return b.String()
}

var isAllProtos = StatsOptions{Raw: true, TCP: true, UDP: true, SCTP: true}

// The expected texts below were printed by net-tools 2.10's netstat for
// the same counters (snapshot/testdata/stats holds those runs).
func TestStatisticsStateMachine(t *testing.T) {
	icmp := isSection("Icmp", "OutEchos", 1, "InEchos", 2, "InMsgs", 3, "OutDestUnreachs", 0, "InDestUnreachs", 0, "OutMsgs", 4, "Weird", 5)
	icmpMsg := isSection("IcmpMsg", "InType3", 3, "OutType0", 4)
	udp := isSection("Udp", "InDatagrams", 1)
	tests := []struct {
		name string
		opt  StatsOptions
		secs []*snapshot.StatSection
		want string
	}{
		{
			// Histogram titles are printed at the old state's indent,
			// even with no line under them; unknown sections inherit
			// the state.
			name: "histograms",
			opt:  isAllProtos,
			secs: []*snapshot.StatSection{icmp, icmpMsg, udp},
			want: "Icmp:\n    ICMP output histogram:\n        echo requests: 1\n        ICMP input histogram:\n        echo requests: 2\n" +
				"    3 ICMP messages received\n    ICMP output histogram:\n        ICMP input histogram:\n    4 ICMP messages sent\n    Weird: 5\n" +
				"IcmpMsg:\n    InType3: 3\n    OutType0: 4\nUdp:\n    1 packets received\n",
		},
		{
			name: "unknown section after a histogram",
			opt:  isAllProtos,
			secs: []*snapshot.StatSection{isSection("Icmp", "OutDestUnreachs", 400), icmpMsg},
			want: "Icmp:\n    ICMP output histogram:\n        destination unreachable: 400\nIcmpMsg:\n        InType3: 3\n        OutType0: 4\n",
		},
		{
			// A disabled known section prints nothing but still resets
			// the state.
			name: "disabled section resets the state",
			opt:  StatsOptions{TCP: true},
			secs: []*snapshot.StatSection{isSection("Icmp", "OutDestUnreachs", 400), icmpMsg, udp, isSection("UdpLite")},
			want: "IcmpMsg:\n    InType3: 3\n    OutType0: 4\nUdpLite:\n",
		},
		{
			name: "static rows, empty texts, unreachable rows, zero and non-zero",
			opt:  isAllProtos,
			secs: []*snapshot.StatSection{
				isSection("Ip", "Forwarding", 2, "DefaultTTL", 64, "InReceives", 0, "FragOKs", 0, "FragCreates", 3, "OutTransmits", 0, "Extra", 7),
				isSection("Tcp", "RtoAlgorithm", 1, "RtoMin", 200, "MaxConn", 0, "CurrEstab", 0),
				isSection("TcpExt", "TW", 0, "TWKilled", 3, "TCPTimeouts", 0, "TCPHPHits", 0, "DelayedACKs", 9),
			},
			want: "Ip:\n    Forwarding: 2\n    0 total packets received\n    3 fragments created\n    Extra: 7\n" +
				"Tcp:\n    0 connections established\n" +
				"TcpExt:\n    TWKilled: 3\n    0 packet headers predicted\n    9 delayed acks sent\n",
		},
		{
			name: "values up to 2^64-1",
			opt:  isAllProtos,
			secs: []*snapshot.StatSection{{Title: "Ip", Counters: []snapshot.Counter{{Name: "InReceives", Value: ^uint64(0)}}}},
			want: "Ip:\n    18446744073709551615 total packets received\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRender(tt.opt, StatTablesInet, tt.secs...); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestStatisticsInet6(t *testing.T) {
	got := isRender(isAllProtos, StatTablesInet6,
		isSection("Ip6", "Ip6InReceives", 56, "Ip6InMcastPkts", 32, "Ip6OutMcastPkts", 0, "Ip6InOctets", 4032),
		isSection("Icmp6", "Icmp6InMsgs", 0, "Icmp6OutMsgs", 32, "Icmp6InDestUnreachs", 0, "Icmp6OutRouterSolicits", 14, "Icmp6OutRouterAdvertisements", 2, "Icmp6OutType133", 14),
		isSection("Udp6", "Udp6InDatagrams", 0),
		isSection("UdpLite6", "UdpLite6InDatagrams", 0),
	)
	want := "Ip6:\n    56 total packets received\n    32 incoming multicast packets\n    Ip6InOctets: 4032\n" +
		"Icmp6:\n    0 ICMP messages received\n    32 ICMP messages sent\n    ICMP input histogram:\n        ICMP output histogram:\n" +
		"        router solicits: 14\n        Icmp6OutRouterAdvertisements: 2\n        Icmp6OutType133: 14\n" +
		"Udp6:\n    0 packets received\nUdpLite6:\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// -s6 -u: Ip6 and Icmp6 are off.
	st := NewStatistics(StatsOptions{UDP: true})
	if st.Shown(StatTablesInet6, "Ip6") || !st.Shown(StatTablesInet6, "Udp6") || !st.Shown(StatTablesInet6, "UdpLite6") {
		t.Error("Shown: wrong sections for -s6 -u")
	}
	// The trailing Tcp section of -s6 uses the IPv4 tables.
	if got := isRender(StatsOptions{TCP: true}, StatTablesInet, isSection("Tcp", "ActiveOpens", 17)); got != "Tcp:\n    17 active connection openings\n" {
		t.Errorf("Tcp: %q", got)
	}
}

func TestStatsJSON(t *testing.T) {
	if got := string(StatsJSON(nil)); got != "[]\n" {
		t.Errorf("empty: %q", got)
	}
	secs := []StatSectionJSON{{
		Section: "Ip", File: "snmp",
		Counters: JSONCounters{{Name: "Zed", Value: 1}, {Name: "A\"b", Value: ^uint64(0)}, {Name: "Zed", Value: 9}},
	}}
	got := string(StatsJSON(secs))
	want := "[\n{\"section\":\"Ip\",\"file\":\"snmp\",\"counters\":{\"Zed\":1,\"A\\\"b\":18446744073709551615}}\n]\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	var back []map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range back[0]["counters"].(map[string]any) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"A\"b", "Zed"}, keys); diff != "" {
		t.Error(diff)
	}
}
