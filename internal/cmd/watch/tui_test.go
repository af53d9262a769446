package watch

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

func TestNetstatAddr(t *testing.T) {
	for _, tc := range []struct {
		host string
		port uint16
		wide bool
		want string
	}{
		{"127.0.0.1", 9092, false, "127.0.0.1:9092"},
		{"0.0.0.0", 0, false, "0.0.0.0:*"},
		{"2001:db8:1234:5678:9abc:def0:1234:5678", 12345, false, "2001:db8:1234:567:12345"},
		{"2001:db8:1234:5678:9abc:def0:1234:5678", 12345, true, "2001:db8:1234:5678:9abc:def0:1234:5678:12345"},
	} {
		if got := netstatAddr(tc.host, tc.port, tc.wide); got != tc.want {
			t.Errorf("%s %d wide=%v: %q, want %q", tc.host, tc.port, tc.wide, got, tc.want)
		}
	}
}

// manyRows is n established connections from one long-named owner and n
// TIME_WAIT ones, IPv6 with long addresses.
func manyRows(n int) []merged.Row {
	var rows []merged.Row
	for i := range n {
		rows = append(rows, merged.Row{
			Sock: merged.RowSocket{Family: snapshot.FamilyInet6, State: uint8(conn.TCPEstablished),
				Local:  netip.MustParseAddrPort(fmt.Sprintf("[2001:db8:1234:5678:9abc:def0:1234:%x]:%d", i+1, 40000+i)),
				Remote: netip.MustParseAddrPort("[2001:db8::2]:443")},
			Owner: snapshot.Owner{PID: 1000 + i, Name: "a-rather-long-program-name-indeed"}, HasOwner: true, AgeNs: uint64(i+1) * 1e9, Tx: uint64(i), Dir: "active"})
		rows = append(rows, merged.Row{
			Sock: merged.RowSocket{Family: snapshot.FamilyInet, State: uint8(conn.TCPTimeWait),
				Local: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", 50000+i)), Remote: netip.MustParseAddrPort("127.0.0.1:9092")},
			Owner: snapshot.Owner{PID: 77, Name: "tw", Source: "connect"}, HasOwner: true, Rx: uint64(1000 - i), Dir: "active"})
	}
	return rows
}

func testModel(w, h int, rows []merged.Row) *model {
	m := newModel(func() snap { return snap{} }, time.Second, "state", false)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(snapMsg{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), rows: rows,
		sum: merged.Summarize(rows, 32768, 60999, 3), traced: true, opens: 2, closes: 1, fail: 0.5, lost: 3})
	return m
}

func press(m *model, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "pgdown":
			msg = tea.KeyPressMsg{Code: tea.KeyPgDown}
		case "end":
			msg = tea.KeyPressMsg{Code: tea.KeyEnd}
		case "home":
			msg = tea.KeyPressMsg{Code: tea.KeyHome}
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		default:
			msg = tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
		}
		m.Update(msg)
	}
}

func screenLines(t *testing.T, m *model) []string {
	t.Helper()
	lines := strings.Split(m.View().Content, "\n")
	if len(lines) != m.height {
		t.Fatalf("%dx%d: %d lines, want %d", m.width, m.height, len(lines), m.height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > m.width {
			t.Errorf("%dx%d: line %d is %d wide: %q", m.width, m.height, i, w, ansi.Strip(l))
		}
	}
	return lines
}

func TestScreenFits(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}, {40, 10}} {
		for _, wide := range []bool{false, true} {
			m := testModel(size[0], size[1], manyRows(60))
			m.wide = wide
			m.rebuild()
			lines := screenLines(t, m)
			if !strings.HasPrefix(lines[0], "bpfnetstat watch  12:00:00  opens/s 2.0  closes/s 1.0  failures/s 0.5  lost 3") && size[0] >= 80 {
				t.Errorf("%v: first line %q", size, lines[0])
			}
			if !strings.HasPrefix(lines[1], "TIME_WAIT 60 (top: 77/tw 60)") {
				t.Errorf("%v: second line %q", size, lines[1])
			}
			if !strings.Contains(ansi.Strip(lines[len(lines)-1]), "sort: state") {
				t.Errorf("%v: status line %q", size, lines[len(lines)-1])
			}
			if size[0] >= 80 && !strings.Contains(lines[3], "/a-rath") {
				t.Errorf("%v: owner not shown: %q", size, lines[3])
			}
		}
	}
	// At 200 columns nothing needs to give way: every column and the
	// addresses cut as netstat cuts them.
	m := testModel(200, 50, manyRows(3))
	lines := screenLines(t, m)
	if got := strings.Fields(ansi.Strip(lines[3])); len(got) != 9 || got[1] != "2001:db8:1234:567:40000" || got[8] != "fd" {
		t.Errorf("row at 200 columns: %q", got)
	}
}

func firstRow(t *testing.T, m *model) string {
	t.Helper()
	return ansi.Strip(screenLines(t, m)[3])
}

func TestKeys(t *testing.T) {
	m := testModel(120, 20, manyRows(30)) // 16 rows a page
	if !strings.Contains(firstRow(t, m), "ESTABLISHED") {
		t.Fatalf("sort state: first row %q", firstRow(t, m))
	}
	press(m, "b") // most bytes first: the TIME_WAIT row with Rx 1000
	if r := firstRow(t, m); !strings.Contains(r, "TIME_WAIT") || !strings.Contains(r, "1000") {
		t.Errorf("sort bytes: first row %q", r)
	}
	press(m, "a") // oldest first
	if r := firstRow(t, m); !strings.Contains(r, "1029/") {
		t.Errorf("sort age: first row %q", r)
	}
	press(m, "s")
	first := firstRow(t, m)
	press(m, "j")
	if firstRow(t, m) == first || m.top != 1 {
		t.Errorf("j: top %d, first row %q", m.top, firstRow(t, m))
	}
	press(m, "k", "pgdown")
	if m.top != 16 {
		t.Errorf("PgDn: top %d, want 16", m.top)
	}
	press(m, "end")
	if m.top != 60-16 {
		t.Errorf("End: top %d, want 44", m.top)
	}
	press(m, "home")
	if m.top != 0 {
		t.Errorf("Home: top %d", m.top)
	}

	press(m, "/", "5", "0", "0", "0", "7", "enter")
	lines := screenLines(t, m)
	if !strings.Contains(lines[3], "127.0.0.1:50007") || strings.TrimSpace(lines[4]) != "" || !strings.Contains(lines[len(lines)-1], "filter: 50007") {
		t.Errorf("filter 50007:\n%s", strings.Join(lines, "\n"))
	}
	press(m, "/")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape}) // cancel the edit: the filter stays
	press(m, "q")
	if m.filter != "50007" {
		t.Errorf("filter after Esc in the editor: %q", m.filter)
	}

	// Pause: a refresh does not replace the rows.
	m = testModel(120, 20, manyRows(2))
	press(m, "p")
	m.Update(snapMsg{rows: manyRows(5)})
	if len(m.cells) != 4 || !strings.Contains(screenLines(t, m)[19], "PAUSED") {
		t.Errorf("paused: %d rows", len(m.cells))
	}
	press(m, "p")
	m.Update(snapMsg{rows: manyRows(5)})
	if len(m.cells) != 10 {
		t.Errorf("resumed: %d rows", len(m.cells))
	}
	press(m, "?")
	if !strings.Contains(m.View().Content, "pause/resume") {
		t.Error("? shows no help")
	}

	_, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil || fmt.Sprintf("%T", cmd()) != "tea.QuitMsg" {
		t.Error("q does not quit from the help")
	}
}

// TestIdentityColumns: with --identity the container and unit show, and
// the filter finds a row by its full container id either way.
func TestIdentityColumns(t *testing.T) {
	rows := manyRows(3)
	cid := "4f1e9a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	rows[2].Ident = &cgroups.Identity{Path: "/system.slice/docker-" + cid + ".scope", ContainerID: cid, Unit: "docker-" + cid[:8] + ".scope"}
	m := testModel(200, 20, rows)
	if strings.Contains(m.View().Content, "Container") {
		t.Error("identity columns without --identity")
	}
	m.identity = true
	lines := screenLines(t, m)
	if !strings.Contains(lines[2], "Container") || !strings.Contains(lines[2], "Unit") {
		t.Errorf("header %q", lines[2])
	}
	found := false
	for _, l := range lines[3:] {
		found = found || strings.Contains(ansi.Strip(l), cid[:12]+" docker-4f1e9a2b.scope")
	}
	if !found {
		t.Errorf("no row with the container:\n%s", strings.Join(lines, "\n"))
	}
	press(m, "c")
	if r := firstRow(t, m); !strings.Contains(r, cid[:12]) {
		t.Errorf("sort container: first row %q", r)
	}
	m.identity = false
	press(m, "/")
	for _, r := range cid[40:] {
		press(m, string(r))
	}
	press(m, "enter")
	if len(m.cells) != 1 || !strings.Contains(m.cells[0].search, cid) {
		t.Errorf("filter by container id: %d rows", len(m.cells))
	}
	screenLines(t, m)
	m = testModel(80, 24, rows)
	m.identity = true
	m.rebuild()
	screenLines(t, m) // still fits
}

// The rates line says a failing sweep of the tracer's kept states, and
// only while it fails.
func TestSummarySweepFailing(t *testing.T) {
	m := newModel(func() snap { return snap{} }, time.Second, "state", false)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	m.Update(snapMsg{now: at, traced: true, sweepFailing: true})
	if got := m.summary()[0]; !strings.HasSuffix(got, "lost 0  sweep failing") {
		t.Errorf("failing sweep: rates line %q", got)
	}
	m.Update(snapMsg{now: at.Add(time.Second), traced: true})
	if got := m.summary()[0]; strings.Contains(got, "sweep") {
		t.Errorf("working sweep: rates line %q", got)
	}
}
