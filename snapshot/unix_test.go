package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func unixSock(ref, flags, typ uint64, state uint8, inode uint64, path string) Socket {
	return Socket{
		Proto: ProtoUnix, Family: FamilyUnix, HasInode: true,
		RefCount: ref, Flags: flags, Type: typ, State: state, Inode: inode, Path: path,
	}
}

// TestEachUnixFixture reads a table captured from a real kernel (see
// testdata/capture_fixtures.py).
func TestEachUnixFixture(t *testing.T) {
	const dir = "/tmp/bpfnetstat-fixture-6lgu0vfc/"
	long := dir + strings.Repeat("x", 74)
	if len(long) != 107 { // sun_path holds 108 bytes with the NUL
		t.Fatalf("long path is %d bytes", len(long))
	}
	want := walkResult{Good: []Socket{
		unixSock(3, 0, 2, 3, 10692, ""),
		unixSock(3, 0, 1, 3, 10690, ""),
		unixSock(3, 0, 1, 3, 10691, "@connected"),
		unixSock(3, 0, 2, 3, 10693, ""),
		unixSock(2, 0x10000, 1, 1, 10684, dir+"plain.sock"),
		unixSock(2, 0x10000, 1, 1, 10685, dir+"with"), // cut at the space, as %s cuts it
		unixSock(2, 0x10000, 1, 1, 10686, long),
		unixSock(2, 0, 2, 1, 10694, dir+"dgram.sock"),
		unixSock(2, 0x10000, 5, 1, 10688, "@abs@with@nul"),
		unixSock(2, 0x10000, 1, 1, 10689, "@connected"),
		unixSock(2, 0x10000, 5, 1, 10687, "@abstract-listener"),
	}}
	got, err := collect(NewFS("testdata/proc").EachUnix)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("EachUnix (-want +got):\n%s", diff)
	}
}

const unixHeader = "Num       RefCount Protocol Flags    Type St Inode Path\n"

func TestParseUnix(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want walkResult
	}{
		{name: "empty file", in: ""},
		{name: "header only", in: unixHeader},
		{
			name: "no path, path, same path again, abstract",
			in: unixHeader +
				"0000000000000000: 00000002 00000000 00010000 0001 01 11\n" +
				"0000000000000000: 00000002 00000000 00010000 0001 01 12 /run/a.sock\n" +
				"0000000000000000: 00000003 00000000 00000000 0001 03 13 /run/a.sock\n" +
				"0000000000000000: 00000003 00000000 00000000 0001 03 14 /run/b.sock\n" +
				"0000000000000000: 00000003 00000000 00000000 0001 03 15\n" +
				"0000000000000000: 00000003 00000000 00000000 0005 03 16 @abs@nul\n",
			want: walkResult{Good: []Socket{
				unixSock(2, 0x10000, 1, 1, 11, ""),
				unixSock(2, 0x10000, 1, 1, 12, "/run/a.sock"),
				unixSock(3, 0, 1, 3, 13, "/run/a.sock"),
				unixSock(3, 0, 1, 3, 14, "/run/b.sock"),
				unixSock(3, 0, 1, 3, 15, ""),
				unixSock(3, 0, 5, 3, 16, "@abs@nul"),
			}},
		},
		{
			name: "path cut at white space, bytes kept",
			in: unixHeader +
				"0000000000000000: 00000002 00000000 00010000 0001 01 11 /run/with\ttab\n" +
				"0000000000000000: 00000002 00000000 00010000 0001 01 12 /run/\xff\x01ctl trailing\r\n",
			want: walkResult{Good: []Socket{
				unixSock(2, 0x10000, 1, 1, 11, "/run/with"),
				unixSock(2, 0x10000, 1, 1, 12, "/run/\xff\x01ctl"),
			}},
		},
		{
			name: "header without Inode",
			in:   "Num RefCount Protocol Flags Type St Path\n0000000000000000: 00000002 00000000 00010000 0001 01 /p\n",
			want: walkResult{Good: []Socket{{Proto: ProtoUnix, Family: FamilyUnix, RefCount: 2, Flags: 0x10000, Type: 1, State: 1}}},
		},
		{
			name: "six fields are enough",
			in:   unixHeader + "(nil): 1 0 0 2 FF\n",
			want: walkResult{Good: []Socket{unixSock(1, 0, 2, 255, 0, "")}},
		},
		{
			name: "broken lines",
			in: unixHeader +
				"\n" +
				"ffff888012345678 00000002 00000000 00010000 0001 01 11\n" +
				"ffff88801234567g: 00000002 00000000 00010000 0001 01 11\n" +
				"ffff888012345678: 00000002 00000000 00010000 0001\n" +
				"ffff888012345678: 00000002 00000000 00010000 0001 0g 11\n" +
				"0000000000000000: 00000002 00000000 00010000 0001 01 11 /ok\n",
			want: walkResult{
				Good: []Socket{
					unixSock(2, 0x10000, 1, 0, 0, ""), // "0g": state 0, then no inode: six conversions
					unixSock(2, 0x10000, 1, 1, 11, "/ok"),
				},
				Bad: []LineError{
					{Path: "/proc/net/unix", Line: 2, Field: "Num", Msg: "missing"},
					{Path: "/proc/net/unix", Line: 3, Field: "Num", Token: "ffff888012345678", Msg: `missing ":"`},
					{Path: "/proc/net/unix", Line: 4, Field: "Num", Token: "ffff88801234567g:", Msg: "invalid hex"},
					{Path: "/proc/net/unix", Line: 5, Field: "St", Msg: "missing"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(func(fn func(*Socket, *LineError)) error {
				return parseUnix(strings.NewReader(tt.in), "/proc/net/unix", fn)
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseUnix (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEachUnixMissing(t *testing.T) {
	err := NewFS(t.TempDir()).EachUnix(func(*Socket, *LineError) { t.Error("fn called") })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("EachUnix on a missing file = %v, want fs.ErrNotExist", err)
	}
}

// TestParseUnixGolden checks every piece of testdata/sscanf/unix.txt against
// what glibc's sscanf made of it with unix_do_one's format (unix.golden).
func TestParseUnixGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/sscanf/unix.txt")
	if err != nil {
		t.Fatal(err)
	}
	golden := readGolden(t, "testdata/sscanf/unix.golden")

	var got []string
	for k, b := range fgetsPieces(in) {
		if k == 0 {
			has := 0
			if bytes.Contains(b, []byte("Inode")) {
				has = 1
			}
			got = append(got, fmt.Sprintf("0 has=%d", has))
			continue
		}
		var s Socket
		n, _, p := scanUnix(b, &s)
		if n == 0 && skipSpace(b, 0) == len(b) {
			n = -1
		}
		line := fmt.Sprintf("%d n=%d", k, n)
		if n >= 6 {
			s.Path = string(p)
			line += " " + formatUnixGolden(&s)
		}
		got = append(got, line)
	}
	if diff := cmp.Diff(golden, got); diff != "" {
		t.Errorf("scanUnix vs glibc (-want +got):\n%s", diff)
	}

	var want []string
	for _, g := range golden[1:] {
		var k, n int
		fmt.Sscanf(g, "%d n=%d", &k, &n)
		if n >= 6 {
			_, rest, _ := strings.Cut(g, " n=")
			_, rest, _ = strings.Cut(rest, " ")
			want = append(want, fmt.Sprintf("%d good %s", k, rest))
		} else {
			want = append(want, fmt.Sprintf("%d bogus", k))
		}
	}
	got = got[:0]
	err = parseUnix(bytes.NewReader(in), "unix.txt", func(s *Socket, bad *LineError) {
		k := len(got) + 1
		if bad != nil {
			got = append(got, fmt.Sprintf("%d bogus", k))
			return
		}
		if s.Proto != ProtoUnix || s.Family != FamilyUnix || !s.HasInode {
			t.Errorf("piece %d: Proto, Family, HasInode = %v, %v, %v", k, s.Proto, s.Family, s.HasInode)
		}
		got = append(got, fmt.Sprintf("%d good %s", k, formatUnixGolden(s)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseUnix vs glibc (-want +got):\n%s", diff)
	}
}

// formatUnixGolden prints a good row the way netstat_sscanf.c does.
func formatUnixGolden(s *Socket) string {
	return fmt.Sprintf("ref=%d proto=%d flags=%d type=%d st=%d inode=%d path=%s",
		s.RefCount, s.UnixProto, s.Flags, s.Type, s.State, s.Inode, s.Path)
}

// genUnix makes a /proc/net/unix text of n rows: a third without a path,
// a third sharing one path, a third with a path of their own.
func genUnix(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(unixHeader)
	for i := range n {
		fmt.Fprintf(&buf, "%016x: %08X %08X %08X %04X %02X %5d", 0xffff888000000000+uint64(i)*0x400, 2, 0, 0, 1, 3, 20000+i)
		switch i % 3 {
		case 1:
			buf.WriteString(" /run/systemd/journal/stdout")
		case 2:
			fmt.Fprintf(&buf, " @/tmp/.X11-unix/X%d", i)
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// Rows without a path or with the previous row's path cost nothing; a new
// path costs its string.
func TestParseUnixAllocs(t *testing.T) {
	var text bytes.Buffer
	text.WriteString(unixHeader)
	for i := range 1000 {
		path := ""
		if i%2 == 1 {
			path = " /run/systemd/journal/stdout"
		}
		fmt.Fprintf(&text, "0000000000000000: 00000002 00000000 00000000 0001 03 %d%s\n", i, path)
	}
	allocs := testing.AllocsPerRun(10, func() {
		err := parseUnix(bytes.NewReader(text.Bytes()), "/proc/net/unix", func(s *Socket, bad *LineError) {
			if bad != nil {
				t.Fatal(bad)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 6 {
		t.Errorf("parseUnix of 1000 rows: %v allocations, want a constant few", allocs)
	}
}

func BenchmarkParseUnix(b *testing.B) {
	const rows = 100_000
	text := genUnix(rows)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var sum uint64
	for b.Loop() {
		err := parseUnix(bytes.NewReader(text), "/proc/net/unix", func(s *Socket, bad *LineError) {
			sum += s.Inode + uint64(len(s.Path))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() {
		parseUnix(bytes.NewReader(text), "/proc/net/unix", func(*Socket, *LineError) {})
	}))/rows, "allocs/row")
	_ = sum
}

// FuzzParseUnix checks that no input panics and that every good row prints
// back, in the kernel's layout, to a line that reads the same.
func FuzzParseUnix(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc/net/unix"); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/sscanf/unix.txt"); err == nil {
		lines := bytes.SplitAfter(b, []byte("\n"))
		for i := 1; i < len(lines); i += 23 {
			f.Add(append([]byte(unixHeader), lines[i]...))
		}
	}
	f.Add([]byte("Num RefCount Protocol Flags Type St Path\n0: 1 0 0 1 1 /p\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		header := data[:min(len(data), fgetsMax)]
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			header = header[:i]
		}
		if i := bytes.IndexByte(header, 0); i >= 0 {
			header = header[:i]
		}
		hasInode := bytes.Contains(header, []byte("Inode"))
		lastLine := 0
		err := parseUnix(bytes.NewReader(data), "f", func(s *Socket, bad *LineError) {
			if bad != nil {
				if s != nil {
					t.Fatal("both a socket and a LineError")
				}
				if bad.Line < lastLine || !errors.Is(bad, ErrBogusLine) || bad.Msg == "" || bad.Field == "" {
					t.Fatalf("bad LineError %#v after line %d", bad, lastLine)
				}
				lastLine = bad.Line
				return
			}
			if s.Proto != ProtoUnix || s.Family != FamilyUnix || s.HasInode != hasInode {
				t.Fatalf("Proto, Family, HasInode = %v, %v, %v; want unix, unix, %v", s.Proto, s.Family, s.HasInode, hasInode)
			}
			if strings.ContainsAny(s.Path, " \t\n\v\f\r\x00") {
				t.Fatalf("Path %q holds white space or NUL", s.Path)
			}
			line := fmt.Appendf(nil, "%016X: %08X %08X %08X %04X %02X %d", 0, s.RefCount, s.UnixProto, s.Flags, s.Type, s.State, s.Inode)
			if s.Path != "" {
				line = fmt.Appendf(line, " %s", s.Path)
			}
			var again Socket
			n, stop, p := scanUnix(line, &again)
			if n < 7 {
				t.Fatalf("reprinted row %q: %d conversions, stopped at %+v", line, n, stop)
			}
			again.Proto, again.Family, again.HasInode, again.Path = s.Proto, s.Family, s.HasInode, string(p)
			if diff := cmp.Diff(*s, again, cmpAddr); diff != "" {
				t.Fatalf("reprinted row %q reads differently (-first +again):\n%s", line, diff)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
