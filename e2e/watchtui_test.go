package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// holderName is the program name of the workload that keeps connections
// open for the terminal tests (a copy of this test binary, so that its
// name is known and distinct from the TIME_WAIT helper's).
const holderName = "watchholder"

// holderConns is how many loopback connections the holder keeps open:
// with both ends, the listener and the TIME_WAIT rows, more rows than fit
// on a 200x50 screen, so that scrolling moves at every size.
const holderConns = 25

// startHolder runs the holder inside ns: a listener on port and n
// connections to it, kept until the test ends. It returns the holder's
// PID once every connection is up.
func startHolder(t *testing.T, ns string, port, n int) int {
	t.Helper()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), holderName)
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-test.run=^TestWatchHolderProcess$")
	cmd.Env = append(os.Environ(), "BPFNETSTAT_WATCH_HOLDER="+strconv.Itoa(port)+","+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("holder: %q, %v", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	return pid
}

// TestWatchHolderProcess is the holder of startHolder; it does nothing in
// a normal test run.
func TestWatchHolderProcess(t *testing.T) {
	spec := os.Getenv("BPFNETSTAT_WATCH_HOLDER")
	if spec == "" {
		return
	}
	var port, n int
	fmt.Sscanf(spec, "%d,%d", &port, &n)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	var keep []net.Conn
	for range n {
		c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, c, s)
	}
	fmt.Printf("ready %d\n", os.Getpid())
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	for _, c := range keep {
		c.Close()
	}
	ln.Close()
}

// tuiPane is a tmux session running one command, and what its screen
// shows.
type tuiPane struct {
	t       *testing.T
	session string
}

// lines is the screen with wrapped lines joined (-J): a row wider than the
// terminal shows as a line longer than the width.
func (p *tuiPane) lines() []string {
	out, _ := tmux("capture-pane", "-p", "-J", "-t", p.session)
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

func (p *tuiPane) waitFor(what string, ok func([]string) bool) []string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := p.lines()
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s; screen:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *tuiPane) keys(keys ...string) {
	if out, err := tmux(append([]string{"send-keys", "-t", p.session}, keys...)...); err != nil {
		p.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

var statusPos = regexp.MustCompile(`sort: (\w+)  (\d+)-(\d+)/(\d+)`)

// view is one screen of watch taken apart.
type view struct {
	summary []string // the two top lines
	header  string
	rows    []string // the table rows shown
	status  string   // the last line
	sort    string
	first   int // the first and last rows shown, 1-based
	last    int
	total   int
}

func parseView(lines []string, height int) (view, bool) {
	if len(lines) < height {
		// capture-pane drops trailing empty lines: pad back to the height.
		lines = append(lines, make([]string, height-len(lines))...)
	}
	if len(lines) != height {
		return view{}, false
	}
	v := view{summary: lines[:2], header: lines[2], status: lines[height-1]}
	for _, l := range lines[3 : height-1] {
		if strings.TrimSpace(l) != "" {
			v.rows = append(v.rows, l)
		}
	}
	m := statusPos.FindStringSubmatch(v.status)
	if m == nil {
		return v, false
	}
	v.sort = m[1]
	v.first, _ = strconv.Atoi(m[2])
	v.last, _ = strconv.Atoi(m[3])
	v.total, _ = strconv.Atoi(m[4])
	return v, true
}

// TestWatchTUI drives the terminal view of watch in tmux at three sizes
// with a known workload: connections held open by holderName and TIME_WAIT
// sockets of another process. At each size: no row wraps, the summary is
// on the first two lines, the owners are shown, s/o change the order, /
// filters, j and PgDn scroll, and q gives the shell back in cooked mode.
// At 120x40 the window is also resized to 80x24 and must be redrawn.
func TestWatchTUI(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux missing: scripts/install-test-deps.sh installs it")
	}
	b := getBinaries(t)
	// A session that lives through the subtests: killing the last session
	// ends the tmux server, and the next subtest's new-session could race
	// its exit.
	keeper := fmt.Sprintf("bpfnetstat-tui-keeper-%d", os.Getpid())
	if out, err := tmux("new-session", "-d", "-s", keeper, "sleep 600"); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	defer tmux("kill-session", "-t", keeper)
	for i, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			// A namespace each: TIME_WAIT rows outlive a subtest, and the
			// tracer names their owner only if it runs when they close.
			n := newNetns(t)
			defer n.close()
			holder := startHolder(t, n.name, 9095, holderConns)
			holderOwner := fmt.Sprintf("%d/%s", holder, holderName)
			p := &tuiPane{t: t, session: fmt.Sprintf("bpfnetstat-tui-%d-%d", os.Getpid(), i)}
			script := fmt.Sprintf("ip netns exec %s %s watch --interval 300ms; %s", n.name, b.ours, modesProbe)
			if out, err := tmux("new-session", "-d", "-s", p.session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), script); err != nil {
				t.Fatalf("tmux: %v: %s", err, out)
			}
			defer tmux("kill-session", "-t", p.session)
			p.waitFor("the summary", func(l []string) bool { return len(l) > 0 && strings.HasPrefix(l[0], "bpfnetstat watch") })

			twPort := 9100 + i
			tw := wtTimeWaits(t, n.name, twPort, 6)
			twOwner := fmt.Sprintf("%d/", tw)
			total := 2*holderConns + 1 + 6 // both ends, the listener, TIME_WAIT
			var v view
			p.waitFor("every row and the TIME_WAIT summary", func(l []string) bool {
				var ok bool
				v, ok = parseView(l, h)
				return ok && v.total == total && strings.Contains(v.summary[1], "TIME_WAIT 6 (top: "+twOwner)
			})
			check := func(what string, lines []string, width int) {
				t.Helper()
				for j, l := range lines {
					if len([]rune(l)) > width {
						t.Errorf("%s: line %d is %d wide (a wrapped row), want at most %d:\n%s", what, j, len([]rune(l)), width, l)
					}
				}
			}
			lines := p.lines()
			check("first screen", lines, w)
			if !strings.HasPrefix(v.summary[0], "bpfnetstat watch ") || !strings.Contains(v.summary[0], "opens/s ") ||
				!strings.Contains(v.summary[0], "closes/s ") || !strings.Contains(v.summary[0], "failures/s ") || !strings.Contains(v.summary[0], "lost ") {
				t.Errorf("first summary line %q", v.summary[0])
			}
			if !strings.Contains(v.status, "keys:") || !strings.Contains(v.status, "q quit") || v.sort != "state" {
				t.Errorf("status line %q", v.status)
			}
			if len(v.rows) != h-4 {
				t.Errorf("%d rows on a %d-line screen, want %d", len(v.rows), h, h-4)
			}
			// Sorted by state: the holder's connections first.
			if !strings.Contains(v.rows[0], holderOwner) || !strings.Contains(v.rows[0], "ESTABLISHED") {
				t.Errorf("first row under sort state: %q, want an ESTABLISHED row of %s", v.rows[0], holderOwner)
			}
			if !strings.Contains(v.header, "PID/Program name") || !strings.Contains(v.header, "State") {
				t.Errorf("column header %q", v.header)
			}

			// Paused, the rows stand still while the keys move the view.
			p.keys("p")
			p.waitFor("PAUSED", func(l []string) bool { return strings.Contains(l[len(l)-1], "PAUSED") })
			v, _ = parseView(p.lines(), h)
			second := v.rows[1]
			p.keys("j")
			v = p.view(h, "j to scroll one row", func(v view) bool { return v.first == 2 })
			if v.rows[0] != second {
				t.Errorf("after j the first row is %q, want the former second %q", v.rows[0], second)
			}
			p.keys("PageDown")
			p.view(h, "PgDn to scroll a page", func(v view) bool { return v.first == 2+h-4 || v.first == total-(h-4)+1 })
			p.keys("Home")
			p.view(h, "Home", func(v view) bool { return v.first == 1 })

			// The last row: under state the listener, under owner the
			// last owner's rows (the listener is the holder's).
			p.keys("End")
			v = p.view(h, "End", func(v view) bool { return v.first == total-(h-4)+1 })
			if last := v.rows[len(v.rows)-1]; !strings.Contains(last, "LISTEN") {
				t.Errorf("last row under sort state %q, want the listener", last)
			}
			p.keys("o")
			v = p.view(h, "sort owner", func(v view) bool { return v.sort == "owner" })
			firstKey, lastKey := holderOwner, twOwner
			if twOwner+"e2e.test" < holderOwner {
				firstKey, lastKey = twOwner, holderOwner
			}
			if last := v.rows[len(v.rows)-1]; !strings.Contains(last, lastKey) {
				t.Errorf("last row under sort owner %q, want one of %s", last, lastKey)
			}
			p.keys("Home")
			v = p.view(h, "Home", func(v view) bool { return v.first == 1 })
			if !strings.Contains(v.rows[0], firstKey) {
				t.Errorf("first row under sort owner %q, want one of %s", v.rows[0], firstKey)
			}
			p.keys("s")
			p.view(h, "sort state", func(v view) bool { return v.sort == "state" })

			// Filter: only the TIME_WAIT rows to twPort are left.
			p.keys("/", ":"+strconv.Itoa(twPort), "Enter")
			v = p.view(h, "the filter", func(v view) bool { return v.total == 6 })
			for _, r := range v.rows {
				if !strings.Contains(r, ":"+strconv.Itoa(twPort)) || !strings.Contains(r, "TIME_WAIT") || !strings.Contains(r, twOwner) {
					t.Errorf("row %q left by filter :%d", r, twPort)
				}
			}
			if len(v.rows) != 6 || !strings.Contains(v.status, "filter: :"+strconv.Itoa(twPort)) {
				t.Errorf("filter: %d rows, status %q", len(v.rows), v.status)
			}
			// Esc alone (Esc and p at once would read as Alt-p).
			p.keys("Escape")
			p.view(h, "the filter cleared", func(v view) bool { return v.total == total })
			p.keys("p")
			p.view(h, "the refresh resumed", func(v view) bool {
				return v.total == total && !strings.Contains(v.status, "PAUSED")
			})

			if w == 120 {
				// Resized, the screen is redrawn to the new size: the
				// status line moves to line 24 and counts 20 rows (tmux
				// alone keeps the bottom of the old screen, whose status
				// line said 1-36).
				if out, err := tmux("resize-window", "-t", p.session, "-x", "80", "-y", "24"); err != nil {
					t.Fatalf("resize-window: %v: %s", err, out)
				}
				v = p.view(24, "the redraw at 80x24", func(v view) bool { return v.first == 1 && v.last == 20 && len(v.rows) == 20 })
				check("after the resize", p.lines(), 80)
				if !strings.HasPrefix(v.summary[0], "bpfnetstat watch ") || !strings.HasPrefix(v.summary[1], "TIME_WAIT 6") {
					t.Errorf("summary after the resize: %q", v.summary)
				}
				h = 24
			}

			p.keys("q")
			lines = p.waitFor("watch to quit", func(l []string) bool { return strings.Contains(strings.Join(l, "\n"), modesDone) })
			screen := strings.Join(lines, "\n")
			if strings.Contains(screen, "bpfnetstat watch") || strings.Contains(screen, "PID/Program") {
				t.Errorf("the table is still on screen after q: the alternate screen was not left:\n%s", screen)
			}
			if !strings.Contains(screen, "icanon echo") {
				t.Errorf("terminal modes not restored (want icanon and echo):\n%s", screen)
			}
		})
	}
}

// view waits until the screen, parsed, satisfies ok, and returns it.
func (p *tuiPane) view(height int, what string, ok func(view) bool) view {
	p.t.Helper()
	var v view
	p.waitFor(what, func(l []string) bool {
		var parsed bool
		v, parsed = parseView(l, height)
		return parsed && ok(v)
	})
	return v
}

// TestWatchTUIColour: the states are coloured on a colour terminal, and
// not at all under NO_COLOR or on TERM=dumb (read with capture-pane -e,
// which keeps the attributes).
func TestWatchTUIColour(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux missing: scripts/install-test-deps.sh installs it")
	}
	b := getBinaries(t)
	n := newNetns(t)
	defer n.close()
	startHolder(t, n.name, 9095, 2)
	for i, tc := range []struct {
		env    string
		colour bool
	}{{"TERM=xterm-256color", true}, {"TERM=xterm-256color NO_COLOR=1", false}, {"TERM=dumb", false}} {
		session := fmt.Sprintf("bpfnetstat-tuicolour-%d-%d", os.Getpid(), i)
		script := fmt.Sprintf("env %s ip netns exec %s %s watch --interval 300ms; sleep 60", tc.env, n.name, b.ours)
		if out, err := tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "24", script); err != nil {
			t.Fatalf("tmux: %v: %s", err, out)
		}
		// Killed at the end: killing the last session ends the tmux
		// server, and a new session at that moment can fail.
		defer tmux("kill-session", "-t", session)
		var screen string
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(screen, "ESTABLISHED") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			screen, _ = tmux("capture-pane", "-p", "-e", "-t", session)
		}
		coloured := strings.Contains(screen, "\x1b[32mESTABLISHED") && strings.Contains(screen, "\x1b[34mLISTEN")
		anyColour := regexp.MustCompile(`\x1b\[(3|4|9|10)[0-8]`).MatchString(screen)
		if !strings.Contains(screen, "ESTABLISHED") || coloured != tc.colour || anyColour != tc.colour {
			t.Errorf("%s: states coloured %v (any colour %v), want %v:\n%q", tc.env, coloured, anyColour, tc.colour, screen)
		}
	}
}
