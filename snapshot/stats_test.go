package snapshot

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// sec builds a section from "name=value" pairs.
func sec(title string, pairs ...string) StatSection {
	s := StatSection{Title: title}
	for _, p := range pairs {
		name, v, _ := strings.Cut(p, "=")
		var n uint64
		for _, c := range v {
			n = n*10 + uint64(c-'0')
		}
		if v == "max" {
			n = ^uint64(0)
		}
		s.Counters = append(s.Counters, Counter{Name: name, Value: n})
	}
	return s
}

func TestParseSNMP(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []StatSection
		err  *StatsFormatError
	}{
		{name: "empty"},
		{
			name: "pairs",
			in:   "Ip: Forwarding DefaultTTL\nIp: 2 64\nTcp: MaxConn\nTcp: -1\n",
			want: []StatSection{sec("Ip", "Forwarding=2", "DefaultTTL=64"), sec("Tcp", "MaxConn=max")},
		},
		{
			// A title line without its values line is dropped silently.
			name: "header only",
			in:   "Ip: Forwarding DefaultTTL\n",
		},
		{
			name: "blank lines where a pair starts",
			in:   "\n\nIp: A B\nIp: 1 2\n\nUdp: C\nUdp: 3\n",
			want: []StatSection{sec("Ip", "A=1", "B=2"), sec("Udp", "C=3")},
		},
		{
			name: "blank values line",
			in:   "Ip: A\n\nUdp: C\nUdp: 3\n",
			err:  &StatsFormatError{Line: 2, Text: ""},
		},
		{
			name: "values line without colon",
			in:   "Udp: C\nUdp: 3\nIp: A B\nIp 1 2\nTcp: D\nTcp: 4\n",
			want: []StatSection{sec("Udp", "C=3")},
			err:  &StatsFormatError{Line: 4, Text: "Ip 1 2"},
		},
		{
			name: "title line without colon",
			in:   "Ip A B\nIp: 1 2\n",
			err:  &StatsFormatError{Line: 1, Text: "Ip A B"},
		},
		{
			// strtoull: a sign, saturation, and no number (0, and the
			// values stop there).
			name: "values",
			in:   "Ip: A B C D E F\nIp: -1 99999999999999999999999 +5 x 7\n",
			want: []StatSection{sec("Ip", "A=max", "B=max", "C=5", "D=0", "E=0", "F=0")},
		},
		{
			name: "more values than names, tabs, trailing blanks",
			in:   "Ip:\tA\t\tB \nIp:\t5\t\t6 7 8\n",
			want: []StatSection{sec("Ip", "A=5", "B=6")},
		},
		{
			// \r is not a separator for the names but strtoull skips it.
			name: "CRLF",
			in:   "Ip: A B\r\nIp: 5 6\r\n",
			want: []StatSection{sec("Ip", "A=5", "B\r=6")},
		},
		{
			name: "NUL ends the line",
			in:   "Ip: A\x00B C\nIp: 5 6\n",
			want: []StatSection{sec("Ip", "A=5")},
		},
		{
			name: "no final newline",
			in:   "Ip: A B\nIp: 5 6",
			want: []StatSection{sec("Ip", "A=5", "B=6")},
		},
		{
			name: "title with spaces, no names",
			in:   "My Title:\nx: 1\n",
			want: []StatSection{{Title: "My Title"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSNMP(strings.NewReader(tt.in), "/proc/net/snmp")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sections (-want +got):\n%s", diff)
			}
			if tt.err == nil {
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
				return
			}
			var fe *StatsFormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrStatsFormat) {
				t.Fatalf("error %v, want a *StatsFormatError", err)
			}
			tt.err.Path = "/proc/net/snmp"
			if diff := cmp.Diff(tt.err, fe); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsFormatErrorText(t *testing.T) {
	err := &StatsFormatError{Path: "/proc/net/snmp", Line: 7, Text: "Ip 1 2 3"}
	want := `/proc/net/snmp:7: "Ip 1 2 3": no ':' in a header/value line pair`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestParseSNMP6(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []StatSection
	}{
		{name: "empty"},
		{
			name: "sections by the name up to its first 6",
			in:   "Ip6InReceives 5\nIp6InDelivers\t3\nIcmp6InMsgs 2\nUdp6InDatagrams 7\nUdpLite6InDatagrams 0\n",
			want: []StatSection{
				sec("Ip6", "Ip6InReceives=5", "Ip6InDelivers=3"), sec("Icmp6", "Icmp6InMsgs=2"),
				sec("Udp6", "Udp6InDatagrams=7"), sec("UdpLite6", "UdpLite6InDatagrams=0"),
			},
		},
		{
			// A blank line repeats the previous counter; a name without
			// a number keeps the previous value.
			name: "blank lines and missing values",
			in:   "Ip6InReceives 5\n\n  \nIcmp6InMsgs\nIcmp6OutMsgs x\n",
			want: []StatSection{
				sec("Ip6", "Ip6InReceives=5", "Ip6InReceives=5", "Ip6InReceives=5"),
				sec("Icmp6", "Icmp6InMsgs=5", "Icmp6OutMsgs=5"),
			},
		},
		{
			// A title occurring anywhere in the name keeps the section;
			// a name without 6 is its own title.
			name: "titles",
			in:   "Foo 3\nFooBar 4\nBar6Baz 2\nXBar6 1\n",
			want: []StatSection{sec("Foo", "Foo=3", "FooBar=4"), sec("Bar6", "Bar6Baz=2", "XBar6=1")},
		},
		{
			name: "leading blank line",
			in:   "\nIp6InReceives 5\n",
			want: []StatSection{sec("", "=0", "Ip6InReceives=5")},
		},
		{
			// fgets reads 1023 bytes at a time: the rest of a long line
			// is a line of its own.
			name: "long line",
			in:   "Ip6A 1\nIp6" + strings.Repeat("y", 1030) + " 7\n",
			want: []StatSection{
				sec("Ip6", "Ip6A=1", "Ip6"+strings.Repeat("y", 1020)+"=1"),
				sec("yyyyyyyyyy", "yyyyyyyyyy=7"),
			},
		},
		{
			name: "NUL",
			in:   "Ip6InReceives 5\nIp6In\x00Delivers 3\nUdp6InDatagrams \x007\n",
			want: []StatSection{sec("Ip6", "Ip6InReceives=5", "Ip6In=5"), sec("Udp6", "Udp6InDatagrams=5")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSNMP6(strings.NewReader(tt.in), "/proc/net/snmp6")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sections (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNameValues(t *testing.T) {
	in := "SctpCurrEstab 1\nSctpActiveEstabs\t2\nSctpBar\nSctpBaz \nSctpNoNewline"
	got, err := parseNameValues(strings.NewReader(in), "/proc/net/sctp/snmp")
	if err != nil {
		t.Fatal(err)
	}
	want := sec("Sctp", "SctpCurrEstab=1", "SctpActiveEstabs=2")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReadStatsFixtures reads files captured from a real kernel (a private
// namespace after some ICMP, UDP and TCP traffic).
func TestReadStatsFixtures(t *testing.T) {
	fsys := NewFS("testdata/stats/real")
	snmp, err := fsys.ReadSNMP()
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, s := range snmp {
		titles = append(titles, s.Title)
	}
	if diff := cmp.Diff([]string{"Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite"}, titles); diff != "" {
		t.Errorf("snmp titles (-want +got):\n%s", diff)
	}
	if c := snmp[0].Counters[0]; c != (Counter{"Forwarding", 2}) {
		t.Errorf("first counter %+v, want Forwarding 2", c)
	}
	if c := snmp[3].Counters[3]; c != (Counter{"MaxConn", ^uint64(0)}) {
		t.Errorf("Tcp MaxConn %+v, want -1 read as 2^64-1", c)
	}
	ext, err := fsys.ReadNetstat()
	if err != nil || len(ext) != 3 || ext[0].Title != "TcpExt" || len(ext[0].Counters) < 100 {
		t.Errorf("netstat: %d sections, %v", len(ext), err)
	}
	six, err := fsys.ReadSNMP6()
	if err != nil || len(six) < 4 || six[0].Title != "Ip6" || six[1].Title != "Icmp6" {
		t.Errorf("snmp6: %v, %v", six, err)
	}
	if sctp, err := fsys.ReadSCTPSNMP(); sctp != nil || err != nil {
		t.Errorf("sctp/snmp absent: got %v, %v; want nil, nil", sctp, err)
	}
	sctp, err := NewFS("testdata/stats/sctp").ReadSCTPSNMP()
	if err != nil || sctp == nil || sctp.Title != "Sctp" || len(sctp.Counters) != 6 {
		t.Errorf("sctp/snmp: %+v, %v", sctp, err)
	}
}

func TestReadStatsMissing(t *testing.T) {
	fsys := NewFS(t.TempDir())
	if _, err := fsys.ReadSNMP(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSNMP: %v, want ErrNotExist (netstat reports it)", err)
	}
	if _, err := fsys.ReadSNMP6(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSNMP6: %v, want ErrNotExist", err)
	}
	if s, err := fsys.ReadNetstat(); s != nil || err != nil {
		t.Errorf("ReadNetstat: %v, %v; want an empty result", s, err)
	}
}

func TestStatsReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("Ip: A\nIp: 1\n"), iotest.ErrReader(boom))
	secs, err := parseSNMP(r, "/proc/net/snmp")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/proc/net/snmp" || !errors.Is(err, boom) {
		t.Fatalf("error %v, want a read PathError wrapping the reader's error", err)
	}
	if diff := cmp.Diff([]StatSection{sec("Ip", "A=1")}, secs); diff != "" {
		t.Errorf("sections read before the error (-want +got):\n%s", diff)
	}
	if _, err := parseSNMP6(iotest.ErrReader(errors.New("boom")), "/proc/net/snmp6"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("snmp6 read error: %v", err)
	}
}

// fuzzSeeds are the stats fixtures' files.
func fuzzSeeds(f *testing.F, name string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "stats", "*", "net", name))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseSNMP(f *testing.F) {
	fuzzSeeds(f, "snmp")
	fuzzSeeds(f, "netstat")
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := parseSNMP(strings.NewReader(string(b)), "snmp")
		if err != nil && !errors.Is(err, ErrStatsFormat) {
			t.Fatalf("unexpected error %v", err)
		}
		for _, s := range secs {
			if strings.ContainsAny(s.Title, ":\n\x00") {
				t.Errorf("title %q", s.Title)
			}
			for _, c := range s.Counters {
				if c.Name == "" || strings.ContainsAny(c.Name, " \t\n\x00") {
					t.Errorf("counter name %q", c.Name)
				}
			}
		}
		// Parsing does not depend on how the reader splits its input.
		again, err2 := parseSNMP(iotest.OneByteReader(strings.NewReader(string(b))), "snmp")
		if diff := cmp.Diff(secs, again); diff != "" || (err == nil) != (err2 == nil) {
			t.Errorf("one-byte reads differ (-whole +bytes):\n%s", diff)
		}
	})
}

func FuzzParseSNMP6(f *testing.F) {
	fuzzSeeds(f, "snmp6")
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := parseSNMP6(strings.NewReader(string(b)), "snmp6")
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		for _, s := range secs {
			if len(s.Counters) == 0 {
				t.Errorf("empty section %q", s.Title)
			}
			for _, c := range s.Counters {
				if !strings.Contains(c.Name, s.Title) {
					t.Errorf("counter %q in section %q", c.Name, s.Title)
				}
				if strings.ContainsAny(c.Name, " \t\n\x00") {
					t.Errorf("counter name %q", c.Name)
				}
			}
		}
		again, _ := parseSNMP6(iotest.OneByteReader(strings.NewReader(string(b))), "snmp6")
		if diff := cmp.Diff(secs, again); diff != "" {
			t.Errorf("one-byte reads differ (-whole +bytes):\n%s", diff)
		}
	})
}
