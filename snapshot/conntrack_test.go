package snapshot

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const (
	masqHeader   = "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta Expires (free=0,0,0)\n"
	masqHeaderPD = "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)\n"
)

func TestParseMasquerade(t *testing.T) {
	tcp := Masq{Proto: "tcp", Family: FamilyInet, Expires: 90000, Src: ip4("192.168.1.2"), Dst: ip4("10.0.0.1"), SPort: 1024, DPort: 22, MPort: 0xF001}
	tests := []struct {
		name, text string
		want       *MasqTable
		err        string
	}{
		{name: "empty", err: "masq_info: Internal Error `fgets() failed'."},
		{name: "header only", text: masqHeader, want: &MasqTable{}},
		{
			name: "no pdelta",
			text: masqHeader + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\n",
			want: &MasqTable{Entries: []Masq{tcp}},
		},
		{
			name: "pdelta",
			text: masqHeaderPD + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 0 90000\n" +
				"IP 7F000001:0000 00000000:0000 0000 FFFFFFFF -5 32767 123456789\n" +
				"GRE 0A010007:0001 0A370001:0002 0003 0 70000 -70000 600100\n",
			want: &MasqTable{HasPDelta: true, Entries: []Masq{
				tcp,
				{Proto: "ip", Family: FamilyInet, Expires: 123456789, Src: ip4("127.0.0.1"), Dst: ip4("0.0.0.0"), InitSeq: 0xFFFFFFFF, Delta: -5, PDelta: 32767},
				// %hd keeps the low 16 bits
				{Proto: "gre", Family: FamilyInet, Expires: 600100, Src: ip4("10.1.0.7"), Dst: ip4("10.55.0.1"), SPort: 1, DPort: 2, MPort: 3, Delta: 4464, PDelta: -4464},
			}},
		},
		{
			// fscanf: newlines are white space like any other.
			name: "multiline",
			text: masqHeader + "TCP\nC0A80102:0400\n\n  0A000001:0016 F001\t00000000 0 90000",
			want: &MasqTable{Entries: []Masq{tcp}},
		},
		{
			name: "format error",
			text: masqHeader + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\nUDP C0A80102-0401\n",
			err:  "masq_info.c: Internal Error `ip_masquerade format error'.",
		},
		{
			name: "truncated",
			text: masqHeader + "TCP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\nUDP\n",
			err:  "masq_info.c: Internal Error `ip_masquerade format error'.",
		},
		{
			// The type is checked after the count, entry by entry.
			name: "unknown type first",
			text: masqHeader + "SCTP C0A80102:0400 0A000001:0016 F001 00000000 0 90000\nUDP C0A80102-0401\n",
			err:  "masq_info.c: Internal Error `ip_masquerade unknown type'.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMasquerade(strings.NewReader(tt.text))
			if tt.err != "" {
				var me *MasqError
				if !errors.As(err, &me) || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpRoute); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadMasqueradeFiles(t *testing.T) {
	if _, err := NewFS(t.TempDir()).ReadMasquerade(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	tbl, err := NewFS("testdata/masq/many").ReadMasquerade()
	if err != nil || len(tbl.Entries) != 20 {
		t.Fatalf("many: %v entries, %v", tbl, err)
	}
}

// conntrackFixture reads testdata/conntrack/nat.
func conntrackFixture(t *testing.T) ([]Conntrack, []LineError) {
	var good []Conntrack
	var bad []LineError
	err := NewFS("testdata/conntrack/nat").EachConntrack(func(c *Conntrack, le *LineError) {
		if c != nil {
			good = append(good, *c)
		} else {
			bad = append(bad, *le)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return good, bad
}

func TestConntrackProc(t *testing.T) {
	good, bad := conntrackFixture(t)
	if len(good) != 9 || len(bad) != 3 {
		t.Fatalf("%d entries, %d bad lines; want 9 and 3: %v", len(good), len(bad), bad)
	}
	first := good[0]
	want := Conntrack{
		Family: FamilyInet, Proto: 6, ProtoName: "tcp", Timeout: 431999, HasTimeout: true, State: "ESTABLISHED",
		Orig:   ConntrackTuple{Src: ip4("10.88.1.2"), Dst: ip4("10.88.2.2"), SrcPort: 40000, DstPort: 7},
		Reply:  ConntrackTuple{Src: ip4("10.88.2.2"), Dst: ip4("10.88.2.1"), SrcPort: 7, DstPort: 40001},
		Status: ipsAssured,
	}
	if diff := cmp.Diff(want, first, cmpRoute); diff != "" {
		t.Errorf("first entry (-want +got):\n%s", diff)
	}
	if good[8].HasTimeout {
		t.Errorf("offloaded entry has a timeout: %+v", good[8])
	}
	var rows []string
	for i := range good {
		m, ok := good[i].Masq()
		if !ok {
			rows = append(rows, "-")
			continue
		}
		rows = append(rows, strings.Join([]string{m.Proto, m.Src.String(), m.Dst.String(),
			itoa16(m.SPort), itoa16(m.DPort), itoa16(m.MPort)}, " "))
	}
	wantRows := []string{
		"tcp 10.88.1.2 10.88.2.2 40000 7 40001",
		"-", // not NAT-ed
		"udp 10.88.1.2 10.88.2.2 33333 9 33333",
		"tcp 198.51.100.7 192.0.2.1 50000 80 8080", // DNAT: the new destination port
		"icmp 10.88.1.2 10.88.2.2 17 0 1017",
		"gre 10.88.1.2 10.88.2.2 0 0 0",
		"esp 10.88.1.2 10.88.2.2 0 0 0",
		"tcp fd00::2 2001:db8::1 41000 22 41000",
		"tcp 10.88.1.3 10.88.2.2 1 2 3",
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("masq rows (-want +got):\n%s", diff)
	}
	if err := NewFS(t.TempDir()).EachConntrack(nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing nf_conntrack: %v", err)
	}
}

func itoa16(v uint16) string { return strconv.Itoa(int(v)) }

// nlAttr builds a netlink attribute.
func nlAttr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, nlAlign(4+len(v)))
	binary.NativeEndian.PutUint16(b, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nested(typ uint16, attrs ...[]byte) []byte {
	var v []byte
	for _, a := range attrs {
		v = append(v, a...)
	}
	return nlAttr(typ|0x8000, v)
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func ctTuple(typ uint16, src, dst string, proto uint8, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).AsSlice(), netip.MustParseAddr(dst).AsSlice()
	st, dt := uint16(ctaIPv4Src), uint16(ctaIPv4Dst)
	if len(s) == 16 {
		st, dt = ctaIPv6Src, ctaIPv6Dst
	}
	return nested(typ,
		nested(ctaTupleIP, nlAttr(st, s), nlAttr(dt, d)),
		nested(ctaTupleProto, nlAttr(ctaProtoNum, []byte{proto}), nlAttr(ctaProtoSrcPort, be16(sport)), nlAttr(ctaProtoDstPort, be16(dport))))
}

// nlMessage builds one netlink message of type typ with payload.
func nlMessage(typ uint16, payload []byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(b, uint32(unix.NLMSG_HDRLEN+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestCtnetlinkParse(t *testing.T) {
	attrs := append([]byte{unix.AF_INET, 0, 0, 0},
		append(append(append(append(append(
			ctTuple(ctaTupleOrig, "10.88.1.2", "10.88.2.2", 6, 40000, 7),
			ctTuple(ctaTupleReply, "10.88.2.2", "10.88.2.1", 6, 7, 40001)...),
			nlAttr(ctaStatus, be32(ipsSrcNAT|ipsAssured|ipsSeenReply))...),
			nlAttr(ctaTimeout, be32(431999))...),
			nested(ctaProtoinfo, nested(ctaProtoinfoTCP, nlAttr(ctaProtoinfoTCPState, []byte{3})))...),
			nested(ctaSeqAdjOrig, nlAttr(ctaSeqAdjCorrectionPos, be32(1000)), nlAttr(ctaSeqAdjOffsetBefore, be32(uint32(0xfffffffe))), nlAttr(ctaSeqAdjOffsetAfter, be32(5)))...)...)
	msg := nlMessage(unix.NFNL_SUBSYS_CTNETLINK<<8, attrs)
	msg = append(msg, nlMessage(unix.NLMSG_DONE, []byte{0, 0, 0, 0})...)
	var got []Conntrack
	done, err := eachNetlinkMessage(msg, func(typ uint16, payload []byte) error {
		var c Conntrack
		if parseCtnetlink(payload[0], payload[4:], &c) {
			got = append(got, c)
		}
		return nil
	})
	if err != nil || !done {
		t.Fatalf("done %v, err %v", done, err)
	}
	want := []Conntrack{{
		Family: FamilyInet, Proto: 6, ProtoName: "tcp", Timeout: 431999, HasTimeout: true, State: "ESTABLISHED",
		Orig:   ConntrackTuple{Src: ip4("10.88.1.2"), Dst: ip4("10.88.2.2"), SrcPort: 40000, DstPort: 7},
		Reply:  ConntrackTuple{Src: ip4("10.88.2.2"), Dst: ip4("10.88.2.1"), SrcPort: 7, DstPort: 40001},
		Status: ipsSrcNAT | ipsAssured | ipsSeenReply, HasStatus: true,
		SeqAdj: &ConntrackSeqAdj{CorrectionPos: 1000, OffsetBefore: -2, OffsetAfter: 5},
	}}
	if diff := cmp.Diff(want, got, cmpRoute); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
	m, ok := got[0].Masq()
	if !ok || m.MPort != 40001 || m.InitSeq != 1000 || m.Delta != 5 || m.PDelta != -2 || !got[0].SNAT() || got[0].DNAT() {
		t.Errorf("masq %+v, %v", m, ok)
	}

	errMsg := nlMessage(unix.NLMSG_ERROR, []byte{0xff, 0xff, 0xff, 0xff}) // -EPERM
	if _, err := eachNetlinkMessage(errMsg, nil); !errors.Is(err, unix.EPERM) {
		t.Errorf("NLMSG_ERROR: %v, want EPERM", err)
	}
	if _, err := eachNetlinkMessage([]byte{200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil); err == nil {
		t.Error("truncated message: no error")
	}
}

// TestConntrackNetlinkLive dumps this namespace's table; it needs
// CAP_NET_ADMIN and says so.
func TestConntrackNetlinkLive(t *testing.T) {
	n := 0
	err := EachConntrackNetlink(func(c *Conntrack) {
		n++
		if !c.Orig.Src.IsValid() || !c.Reply.Dst.IsValid() {
			t.Errorf("entry without addresses: %+v", c)
		}
	})
	if err != nil {
		if !errors.Is(err, ErrConntrackUnavailable) {
			t.Fatalf("error %v does not wrap ErrConntrackUnavailable", err)
		}
		if os.Geteuid() == 0 && os.Getenv("BPFNETSTAT_REQUIRE_ROOT") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no ctnetlink here: %v", err)
	}
	t.Logf("%d entries", n)
}

func FuzzParseConntrack(f *testing.F) {
	b, _ := os.ReadFile("testdata/conntrack/nat/net/nf_conntrack")
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, text string) {
		err := parseConntrack(strings.NewReader(text), "nf_conntrack", func(c *Conntrack, bad *LineError) {
			if (c == nil) == (bad == nil) {
				t.Fatalf("fn(%v, %v)", c, bad)
			}
			if c != nil {
				if !c.Orig.Src.IsValid() || !c.Reply.Dst.IsValid() {
					t.Fatalf("entry without addresses: %+v", c)
				}
				c.Masq()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseMasquerade(f *testing.F) {
	for _, d := range []string{"pdelta", "nopdelta", "multiline", "format-error", "unknown-type"} {
		b, _ := os.ReadFile("testdata/masq/" + d + "/net/ip_masquerade")
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		tbl, err := parseMasquerade(strings.NewReader(text))
		var me *MasqError
		if err != nil && !errors.As(err, &me) {
			t.Fatal(err)
		}
		if err == nil {
			for _, m := range tbl.Entries {
				if m.Proto == "" || !m.Src.Is4() {
					t.Fatalf("bad entry %+v", m)
				}
			}
		}
	})
}

func FuzzParseCtnetlink(f *testing.F) {
	f.Add([]byte(ctTuple(ctaTupleOrig, "10.0.0.1", "10.0.0.2", 17, 1, 2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Conntrack
		parseCtnetlink(unix.AF_INET, b, &c)
		eachNetlinkMessage(b, func(uint16, []byte) error { return nil })
	})
}
