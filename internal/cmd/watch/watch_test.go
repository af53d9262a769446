package watch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil/cmdtest"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestFlags(t *testing.T) {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard}
	for _, tc := range []struct {
		args    string
		want    WatchOptions
		wantErr string
	}{
		{args: "", want: WatchOptions{Sort: "state", Interval: time.Second}},
		{args: "--json --sort bytes --interval 2s --count 3", want: WatchOptions{JSON: true, Sort: "bytes", Interval: 2 * time.Second, Count: 3}},
		{args: "--sort owner", want: WatchOptions{Sort: "owner", Interval: time.Second}},
		{args: "-W", want: WatchOptions{Sort: "state", Interval: time.Second, Wide: true}},
		{args: "--sort size", wantErr: `--sort "size": want one of state, owner, age, bytes`},
		{args: "now", wantErr: "unknown command"},
		{args: "--interval 0", wantErr: "--interval 0s: want a duration of at least 10ms"},
		{args: "--interval -1s", wantErr: "--interval -1s: want a duration of at least 10ms"},
		{args: "--interval x", wantErr: `invalid argument "x" for --interval: want a duration of at least 10ms`},
		{args: "--count -1", wantErr: "--count -1: want 0 (no limit) or a positive whole number"},
		{args: "--count 1.5", wantErr: `invalid argument "1.5" for --count: want 0 (no limit)`},
	} {
		got, err := cmdtest.Parse(NewWatchCmd, env, tc.args)
		if !cmdtest.ErrMatches(err, tc.wantErr) || (tc.wantErr == "") != (got != nil) {
			t.Errorf("%q: err %v (run called: %v), want %q", tc.args, err, got != nil, tc.wantErr)
			continue
		}
		if !cmdtest.IsUsage(err) {
			t.Errorf("%q: %v is not a usage error (exit status 2)", tc.args, err)
		}
		if got == nil {
			continue
		}
		got.Env = cmdutil.Env{}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q: options %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

// rows is a small merged view: an established connection with a known
// owner, a TIME_WAIT row remembered from the tracer and a listener.
func rows() []merged.Row {
	ap := netip.MustParseAddrPort
	return []merged.Row{
		{Sock: merged.RowSocket{Family: snapshot.FamilyInet, Local: ap("0.0.0.0:22"), Remote: ap("0.0.0.0:0"), State: uint8(conn.TCPListen), Inode: 100},
			Owner: snapshot.Owner{PID: 1, Name: "sshd"}, HasOwner: true, Dir: "-"},
		{Sock: merged.RowSocket{Family: snapshot.FamilyInet, Local: ap("10.0.0.1:40000"), Remote: ap("10.0.0.2:443"), State: uint8(conn.TCPTimeWait)},
			Owner: snapshot.Owner{PID: 42, Name: "curl\x1b[2J", Source: "connect"}, HasOwner: true, Tx: 10, Rx: 2000, Dir: "active"},
		{Sock: merged.RowSocket{Family: snapshot.FamilyInet6, Local: ap("[2001:db8::1]:22"), Remote: ap("[2001:db8::2]:50000"), State: uint8(conn.TCPEstablished), Inode: 101},
			Owner: snapshot.Owner{PID: 7, Name: "sshd"}, HasOwner: true, AgeNs: 1500e6, Tx: 5, Rx: 6, Dir: "passive"},
	}
}

func TestSortRows(t *testing.T) {
	for by, want := range map[string][]string{
		"state": {"[2001:db8::1]:22", "10.0.0.1:40000", "0.0.0.0:22"}, // ESTABLISHED, TIME_WAIT, LISTEN
		"owner": {"0.0.0.0:22", "10.0.0.1:40000", "[2001:db8::1]:22"}, // 1/sshd, 42/curl..., 7/sshd
		"bytes": {"10.0.0.1:40000", "[2001:db8::1]:22", "0.0.0.0:22"}, // 2010, 11, 0
		"age":   {"[2001:db8::1]:22", "10.0.0.1:40000", "0.0.0.0:22"}, // the known age, then by state
	} {
		r := rows()
		sortRows(r, by)
		var got []string
		for _, x := range r {
			got = append(got, x.Sock.Local.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sort %s: local addresses %v, want %v", by, got, want)
		}
	}
	r := rows()
	sortRows(r, "state")
	if conn.State(r[0].Sock.State) != conn.TCPEstablished || conn.State(r[2].Sock.State) != conn.TCPListen {
		t.Errorf("sort state: %v first, %v last", conn.State(r[0].Sock.State), conn.State(r[2].Sock.State))
	}
}

func TestWriteWatchText(t *testing.T) {
	r := rows()
	sortRows(r, "state")
	sum := merged.Summarize(r, 32768, 60999, 3)
	now := time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeWatchText(&lineCutter{w: w}, now, 1.5, 0.5, sum, r, "state", false, 0, true, false)
	w.Flush()
	lines := strings.Split(b.String(), "\n")
	if want := "bpfnetstat watch  12:34:56  opens/s 1.5  closes/s 0.5  TIME_WAIT 1 (top: 42/curl\\x1b[2J 1)  sort: state"; lines[0] != want {
		t.Errorf("header\n%q\nwant\n%q", lines[0], want)
	}
	if !strings.HasPrefix(lines[1], "Proto Local Address") || !strings.HasSuffix(lines[1], "Owner") {
		t.Errorf("column header %q", lines[1])
	}
	if len(lines) != 7 || lines[5] != "" || lines[6] != "" {
		t.Fatalf("piped output: %d lines, want 3 rows and a blank line: %q", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"tcp6", "[2001:db8::1]:22", "[2001:db8::2]:50000", "ESTABLISHED", "7/sshd", "1.5s", "5", "6", "fd"},
		{"tcp", "10.0.0.1:40000", "10.0.0.2:443", "TIME_WAIT", "42/curl\\x1b[2J", "-", "10", "2000", "connect"},
		{"tcp", "0.0.0.0:22", "0.0.0.0:0", "LISTEN", "1/sshd", "-", "0", "0", "fd"},
	} {
		if got := strings.Fields(lines[2+i]); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d: %q, want %q", i, got, want)
		}
	}
	if strings.ContainsRune(b.String(), 0x1b) {
		t.Error("a program name reached the terminal unescaped")
	}

	// On a terminal: the keys line, and rows cut to the screen.
	b.Reset()
	writeWatchText(&lineCutter{w: w}, now, 0, 0, sum, r, "age", true, 2, false, false)
	w.Flush()
	out := b.String()
	if !strings.Contains(out, "opens/s -  closes/s -") || !strings.Contains(out, "keys: s state  o owner  a age  b bytes  q quit\n") ||
		!strings.HasSuffix(out, "... 1 more\n") {
		t.Errorf("terminal output:\n%s", out)
	}

	// A 250-byte program name (escaped: up to 1,000) must not wrap a row
	// on a 100-column screen: every line is cut to the width.
	long := rows()
	long[1].Owner.Name = strings.Repeat("\x7fé", 83) + "x"
	sum = merged.Summarize(long, 32768, 60999, 3)
	b.Reset()
	writeWatchText(&lineCutter{w: w, cols: 100}, now, 0, 0, sum, long, "state", true, 20, true, false)
	w.Flush()
	lines = strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Errorf("terminal output: %d lines, want title, keys, header and 3 rows:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line of %d characters on a 100-column screen: %q", n, l)
		}
	}
	if !strings.HasPrefix(lines[0], "bpfnetstat watch  12:34:56") || !strings.Contains(lines[4], "10.0.0.1:40000") {
		t.Errorf("cut lines lost their start:\n%s", b.String())
	}
}

func TestWriteWatchJSON(t *testing.T) {
	r := rows()
	sum := merged.Summarize(r, 32768, 60999, 3)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeWatchJSON(w, time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC), 2, 1, sum, r)
	w.Flush()
	if !strings.HasSuffix(b.String(), "}\n") || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("want one JSON line: %q", b.String())
	}
	var got watchJSON
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Time != "2024-05-01T12:34:56Z" || got.OpensPerS != 2 || got.ClosesPerS != 1 || got.TimeWait != 1 || len(got.Conns) != 3 {
		t.Errorf("snapshot %+v", got)
	}
	if len(got.TopTWOwners) != 1 || got.TopTWOwners[0] != (merged.Count{Key: "42/curl\\x1b[2J", PID: 42, Count: 1}) {
		t.Errorf("top owners %+v", got.TopTWOwners)
	}
	want := watchConnJSON{Family: "inet", LAddr: "10.0.0.1", LPort: 40000, RAddr: "10.0.0.2", RPort: 443, State: "TIME_WAIT",
		PID: 42, Program: "curl\\x1b[2J", OwnerSource: "connect", TxBytes: 10, RxBytes: 2000, Direction: "active"}
	if got.Conns[1] != want {
		t.Errorf("TIME_WAIT row %+v, want %+v", got.Conns[1], want)
	}
	if c := got.Conns[2]; c.Family != "inet6" || c.AgeMS != 1500 || c.OwnerSource != "fd" || c.Inode != 101 {
		t.Errorf("IPv6 row %+v", c)
	}
}

// TestWriteWatchJSONStreams: the streamed snapshot is byte for byte what
// json.Marshal makes of the whole snapshot.
func TestWriteWatchJSONStreams(t *testing.T) {
	r := rows()
	r = append(r, merged.Row{Sock: merged.RowSocket{Family: snapshot.FamilyInet6, Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"),
		Remote: netip.MustParseAddrPort("[::1]:5000"), State: uint8(conn.TCPSynRecv)}, Dir: "-"})
	now := time.Date(2024, 5, 1, 12, 34, 56, 789, time.UTC)
	sum := merged.Summarize(r, 32768, 60999, 3)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeWatchJSON(w, now, 2.5, 1, sum, r)
	w.Flush()

	snap := watchJSON{Time: now.Format(time.RFC3339Nano), OpensPerS: 2.5, ClosesPerS: 1, TimeWait: sum.TimeWait, TopTWOwners: sum.ByOwner}
	for i := range r {
		x := &r[i]
		c := watchConnJSON{Family: x.Sock.Family.String(), LAddr: x.Sock.Local.Addr().Unmap().String(), LPort: x.Sock.Local.Port(),
			RAddr: x.Sock.Remote.Addr().Unmap().String(), RPort: x.Sock.Remote.Port(), State: conn.State(x.Sock.State).String(),
			AgeMS: int64(x.AgeNs / 1e6), TxBytes: x.Tx, RxBytes: x.Rx, Direction: x.Dir, Inode: x.Sock.Inode}
		if x.HasOwner {
			c.PID, c.Program, c.OwnerSource = x.Owner.PID, output.Escape(x.Owner.Name), x.Owner.Source
			if c.OwnerSource == "" {
				c.OwnerSource = "fd"
			}
		}
		snap.Conns = append(snap.Conns, c)
	}
	want, _ := json.Marshal(snap)
	if got := b.String(); got != string(want)+"\n" {
		t.Errorf("streamed:\n%s\nmarshalled:\n%s", got, want)
	}
	// No rows: an empty list, not null.
	b.Reset()
	writeWatchJSON(w, now, 0, 0, merged.Summarize(nil, 32768, 60999, 3), nil)
	w.Flush()
	if !strings.HasSuffix(b.String(), `"top_time_wait_owners":[],"connections":[]}`+"\n") {
		t.Errorf("empty snapshot: %s", b.String())
	}
}
