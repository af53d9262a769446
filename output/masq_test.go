package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestMasqRows(t *testing.T) {
	entries := []snapshot.Masq{
		{Proto: "tcp", Expires: 90000, Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("10.0.0.1"), SPort: 1024, DPort: 8080, MPort: 61441},
		{Proto: "udp", Expires: 59, Src: netip.MustParseAddr("127.0.0.5"), Dst: netip.MustParseAddr("0.0.0.0"), SPort: 2049, MPort: 2049, InitSeq: 4294967295, Delta: -5, PDelta: 32767},
		{Proto: "icmp", Expires: 123456789, Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("2001:db8::1"), SPort: 17, MPort: 1017},
		{Proto: "udplite", Expires: 100, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.3"), SPort: 1, DPort: 2, MPort: 3},
	}
	for _, tt := range []struct {
		extend, pdelta, numeric bool
		want                    string
	}{
		{false, false, false, "IP masquerading entries\n" +
			"prot   expire source               destination          ports\n" +
			"tcp  15:00.00 localhost            10.0.0.1             1024 -> http-alt (61441)\n" +
			"udp   0:00.59 this-is-a-very-long-hostname.example.com 0.0.0.0              nfs -> * (nfs)\n" +
			"icmp20576:07.89 localhost            2001:db8::1          17 -> * (1017)\n" +
			"udplite  0:01.00 10.0.0.2             10.0.0.3             1 -> 2 (3)\n"},
		{true, true, true, "IP masquerading entries\n" +
			"prot   expire    initseq delta prevd source               destination          ports\n" +
			"tcp  15:00.00          0     0     0 127.0.0.1            10.0.0.1             1024 -> 8080 (61441)\n" +
			"udp   0:00.59 4294967295    -5 32767 127.0.0.5            0.0.0.0              2049 -> * (2049)\n" +
			"icmp20576:07.89          0     0     0 ::1                  2001:db8::1          17 -> * (1017)\n" +
			"udplite  0:01.00          0     0     0 10.0.0.2             10.0.0.3             1 -> 2 (3)\n"},
		{true, false, true, "IP masquerading entries\n" +
			"prot   expire    initseq delta prevd source               destination          ports\n" +
			"tcp  15:00.00          0     0     - 127.0.0.1            10.0.0.1             1024 -> 8080 (61441)\n" +
			"udp   0:00.59 4294967295    -5     - 127.0.0.5            0.0.0.0              2049 -> * (2049)\n" +
			"icmp20576:07.89          0     0     - ::1                  2001:db8::1          17 -> * (1017)\n" +
			"udplite  0:01.00          0     0     - 10.0.0.2             10.0.0.3             1 -> 2 (3)\n"},
	} {
		c := NewClassic(ClassicOptions{NumericHosts: tt.numeric, NumericPorts: tt.numeric, NumericHost6: func(a netip.Addr) string { return a.String() }}, fakeNames{}, nil)
		b := MasqHeader(tt.extend)
		for i := range entries {
			b = c.MasqRow(b, &entries[i], tt.extend, tt.pdelta)
		}
		if diff := cmp.Diff(tt.want, string(b)); diff != "" {
			t.Errorf("extend %v pdelta %v numeric %v (-want +got):\n%s", tt.extend, tt.pdelta, tt.numeric, diff)
		}
	}
}

func TestMasqJSON(t *testing.T) {
	ct := &snapshot.Conntrack{Family: snapshot.FamilyInet, Proto: 6, ProtoName: "tcp", Timeout: 120, HasTimeout: true, State: "ESTABLISHED",
		Orig:  snapshot.ConntrackTuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("192.0.2.1"), SrcPort: 40000, DstPort: 80},
		Reply: snapshot.ConntrackTuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1"), SrcPort: 80, DstPort: 40001}}
	m, ok := ct.Masq()
	if !ok {
		t.Fatal("not NAT-ed")
	}
	var b bytes.Buffer
	arr := NewJSONArray(&b)
	arr.Add(NewMasqJSON(&m, true))
	arr.Add(NewMasqJSON(&snapshot.Masq{Proto: "udp", Family: snapshot.FamilyInet, Expires: 250, Src: netip.MustParseAddr("10.0.0.3"), Dst: netip.MustParseAddr("10.0.0.4"), SPort: 1, DPort: 2, MPort: 3}, false))
	arr.Close()
	var v []map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"protocol": "tcp", "family": "inet", "expires_seconds": 120.0, "saddr": "10.0.0.2", "sport": 40000.0,
			"daddr": "192.0.2.1", "dport": 80.0, "mport": 40001.0, "initseq": 0.0, "delta": 0.0, "prevd": 0.0,
			"nat": []any{"snat"}, "reply_saddr": "192.0.2.1", "reply_sport": 80.0, "reply_daddr": "198.51.100.1",
			"reply_dport": 40001.0, "state": "ESTABLISHED"},
		{"protocol": "udp", "family": "inet", "expires_seconds": 2.5, "saddr": "10.0.0.3", "sport": 1.0,
			"daddr": "10.0.0.4", "dport": 2.0, "mport": 3.0, "initseq": 0.0, "delta": 0.0},
	}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}
