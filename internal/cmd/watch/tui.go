package watch

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// snap is one refresh of the data: what the terminal view shows.
type snap struct {
	now                 time.Time
	rows                []merged.Row
	sum                 merged.Summary
	traced              bool
	opens, closes, fail float64 // per second
	lost                uint64  // events the tracer lost since it started
	sweepFailing        bool    // the last sweep of the tracer's kept states failed
}

// snapMsg carries a refresh into the model; tickMsg asks for one.
type (
	snapMsg snap
	tickMsg struct{}
)

// model is the terminal view of watch: a Bubble Tea model. It owns no
// data source: fetch (run by Bubble Tea off the model's goroutine, one
// at a time) produces the snapshots.
type model struct {
	fetch    func() snap
	interval time.Duration
	sortBy   string
	wide     bool
	identity bool // the container and unit columns
	count    int  // quit after this many refreshes (0: never)
	shown    int

	width, height int
	data          snap
	have          bool
	cells         []cell // data.rows sorted and filtered
	top           int    // first row shown
	paused        bool
	help          bool
	editing       bool   // typing a filter after '/'
	filter        string // applied filter text
	draft         string // the filter being typed
}

func newModel(fetch func() snap, interval time.Duration, sortBy string, wide bool) *model {
	return &model{fetch: fetch, interval: interval, sortBy: sortBy, wide: wide, width: 80, height: 24}
}

func (m *model) Init() tea.Cmd { return m.refresh }

func (m *model) refresh() tea.Msg { return snapMsg(m.fetch()) }

func (m *model) tick() tea.Cmd {
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.clamp()
	case snapMsg:
		if !m.paused || !m.have {
			m.data, m.have = snap(msg), true
			m.rebuild()
		}
		if m.shown++; m.count > 0 && m.shown >= m.count {
			return m, tea.Quit
		}
		return m, m.tick()
	case tickMsg:
		return m, m.refresh
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// pageRows is how many table rows fit: the screen less the two summary
// lines, the column header and the status line.
func (m *model) pageRows() int { return max(1, m.height-4) }

func (m *model) clamp() {
	m.top = min(m.top, max(0, len(m.cells)-m.pageRows()))
	m.top = max(m.top, 0)
}

// rebuild sorts and filters the current data for the screen.
func (m *model) rebuild() {
	rows := append([]merged.Row(nil), m.data.rows...)
	sortRows(rows, m.sortBy)
	all := cells(rows, m.wide)
	f := strings.ToLower(m.filter)
	if m.editing {
		f = strings.ToLower(m.draft)
	}
	m.cells = all[:0]
	for _, c := range all {
		if f == "" || strings.Contains(c.search, f) {
			m.cells = append(m.cells, c)
		}
	}
	m.clamp()
}

func (m *model) key(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	if m.editing {
		switch k.Code {
		case tea.KeyEnter:
			m.editing, m.filter, m.top = false, m.draft, 0
		case tea.KeyEscape:
			m.editing, m.draft = false, m.filter
		case tea.KeyBackspace:
			if r := []rune(m.draft); len(r) > 0 {
				m.draft = string(r[:len(r)-1])
			}
		default:
			if k.Text != "" {
				m.draft += k.Text
			}
		}
		m.rebuild()
		return nil
	}
	if m.help {
		m.help = false // any key closes the help
		if k.String() == "q" {
			return tea.Quit
		}
		return nil
	}
	switch k.Code {
	case tea.KeyDown:
		m.top++
	case tea.KeyUp:
		m.top--
	case tea.KeyPgDown:
		m.top += m.pageRows()
	case tea.KeyPgUp:
		m.top -= m.pageRows()
	case tea.KeyHome:
		m.top = 0
	case tea.KeyEnd:
		m.top = len(m.cells)
	case tea.KeyEscape:
		m.filter, m.draft = "", ""
		m.rebuild()
	}
	switch k.Text {
	case "q", "Q":
		return tea.Quit
	case "j":
		m.top++
	case "k":
		m.top--
	case "g":
		m.top = 0
	case "G":
		m.top = len(m.cells)
	case " ":
		m.top += m.pageRows()
	case "s", "o", "a", "b", "c":
		m.sortBy = map[string]string{"s": "state", "o": "owner", "a": "age", "b": "bytes", "c": "container"}[k.Text]
		m.rebuild()
	case "/":
		m.editing, m.draft = true, m.filter
	case "p":
		m.paused = !m.paused
	case "?":
		m.help = true
	}
	m.clamp()
	return nil
}

// Styles: colour for the states, reverse video for the header and the
// status line. Bubble Tea writes them through the terminal's colour
// profile, which drops colours under NO_COLOR or TERM=dumb.
var (
	styleBar    = lipgloss.NewStyle().Reverse(true)
	styleHeader = lipgloss.NewStyle().Bold(true)
	stateStyles = map[conn.State]lipgloss.Style{
		conn.TCPEstablished: lipgloss.NewStyle().Foreground(lipgloss.Green),
		conn.TCPSynSent:     lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		conn.TCPSynRecv:     lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		conn.TCPFinWait1:    lipgloss.NewStyle().Foreground(lipgloss.Magenta),
		conn.TCPFinWait2:    lipgloss.NewStyle().Foreground(lipgloss.Magenta),
		conn.TCPCloseWait:   lipgloss.NewStyle().Foreground(lipgloss.Red),
		conn.TCPLastAck:     lipgloss.NewStyle().Foreground(lipgloss.Magenta),
		conn.TCPClosing:     lipgloss.NewStyle().Foreground(lipgloss.Magenta),
		conn.TCPTimeWait:    lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		conn.TCPListen:      lipgloss.NewStyle().Foreground(lipgloss.Blue),
	}
)

func (m *model) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	return v
}

// screen is the whole screen: the summary (two lines), the column header,
// the rows that fit and the status line; no line wider than the screen
// and never more lines than it has.
func (m *model) screen() string {
	w := max(m.width, 1)
	lines := make([]string, 0, m.height)
	lines = append(lines, m.summary()...)
	body := m.pageRows()
	if m.help {
		lines = append(lines, helpLines...)
	} else {
		l := fit(m.cells, w, m.identity)
		lines = append(lines, styleHeader.Render(l.line(&colTitles)))
		for i := m.top; i < len(m.cells) && i < m.top+body; i++ {
			c := &m.cells[i]
			text := l.line(&c.text)
			if st, ok := stateStyles[c.state]; ok && l[colState] > 0 {
				// Colour the state column only: it starts after the
				// columns shown before it.
				at := 0
				for j := range colState {
					if l[j] > 0 {
						at += l[j] + 1
					}
				}
				if at < len(text) {
					end := min(len(text), at+l[colState])
					text = text[:at] + st.Render(text[at:end]) + text[end:]
				}
			}
			lines = append(lines, text)
		}
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	lines = lines[:max(0, m.height-1)]
	lines = append(lines, styleBar.Render(pad(m.status(), w)))
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "")
	}
	return strings.Join(lines, "\n")
}

func pad(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// summary is the two lines at the top: the rates and losses, then the
// TIME_WAIT count and its top owners.
func (m *model) summary() []string {
	d := &m.data
	if !m.have {
		return []string{"bpfnetstat watch  reading the tables...", ""}
	}
	rates := "opens/s -  closes/s -  failures/s -  lost -"
	if d.traced {
		rates = fmt.Sprintf("opens/s %.1f  closes/s %.1f  failures/s %.1f  lost %d", d.opens, d.closes, d.fail, d.lost)
		if d.sweepFailing {
			// Ends no program saw go unreported until a sweep works.
			rates += "  sweep failing"
		}
	}
	top := make([]string, 0, len(d.sum.ByOwner))
	for _, c := range d.sum.ByOwner {
		top = append(top, fmt.Sprintf("%s %d", output.Escape(c.Key), c.Count))
	}
	tw := fmt.Sprintf("TIME_WAIT %d (top: %s)  connections %d", d.sum.TimeWait, strings.Join(top, ", "), len(d.rows))
	return []string{"bpfnetstat watch  " + d.now.Format("15:04:05") + "  " + rates, tw}
}

// status is the bottom line: where the view is, then the keys, the
// most useful first so that a narrow screen keeps them.
func (m *model) status() string {
	if m.editing {
		return "filter: " + m.draft + "_  (Enter apply, Esc cancel)"
	}
	pos := "0/0"
	if n := len(m.cells); n > 0 {
		pos = fmt.Sprintf("%d-%d/%d", m.top+1, min(n, m.top+m.pageRows()), n)
	}
	s := "sort: " + m.sortBy + "  " + pos
	if m.filter != "" {
		s += "  filter: " + m.filter
	}
	if m.paused {
		s += "  PAUSED"
	}
	return s + "  keys: s o a b c sort  / filter  p pause  ? help  q quit"
}

var helpLines = []string{
	"Keys",
	"  Up/Down, j/k       scroll one row",
	"  PgUp/PgDn, Space   scroll one page",
	"  Home/End, g/G      first/last row",
	"  s o a b c          sort by state, owner, age, bytes, container",
	"  /                  filter: rows holding the text (owner, address, port, state,",
	"                     container, pod, unit, cgroup)",
	"  Esc                clear the filter",
	"  p                  pause/resume the refresh",
	"  ?                  this help (any key closes it)",
	"  q, Ctrl-C          quit",
}

// runTerminal is watch on a terminal: the Bubble Tea program draws the
// model until q, Ctrl-C or a signal; Bubble Tea puts the terminal back
// (main screen, cursor, cooked mode) on every way out.
func runTerminal(o *WatchOptions, src *merged.Source, ids *cmdutil.Identities) error {
	lo, hi := merged.EphemeralRange(src.FS())
	live := src.Live()
	var lastOpens, lastCloses, lastFail uint64
	if live != nil {
		lastOpens, lastCloses = live.Rates()
		lastFail = live.Failures()
	}
	last := time.Now()
	fetch := func() snap {
		// A copy: the source reuses its rows at the next refresh, which
		// runs while the screen still shows (and re-sorts) these.
		var rows []merged.Row
		for _, r := range src.Rows() {
			if ids.WantsRow(r.Ident) {
				rows = append(rows, r)
			}
		}
		s := snap{now: time.Now(), rows: rows, sum: merged.Summarize(rows, lo, hi, 3), traced: live != nil}
		if live != nil {
			opens, closes := live.Rates()
			fail := live.Failures()
			if secs := s.now.Sub(last).Seconds(); secs > 0 {
				s.opens = float64(opens-lastOpens) / secs
				s.closes = float64(closes-lastCloses) / secs
				s.fail = float64(fail-lastFail) / secs
			}
			lastOpens, lastCloses, lastFail = opens, closes, fail
			if c, err := live.Counters(); err == nil {
				s.lost = c.RingFull + c.RecursionLost
			}
			s.sweepFailing = live.SweepFailing() != nil
		}
		last = s.now
		return s
	}
	m := newModel(fetch, o.Interval, o.Sort, o.Wide)
	m.count, m.identity = o.Count, o.Identity.Show
	p := tea.NewProgram(m, tea.WithInput(o.Env.Stdin), tea.WithOutput(o.Env.Stdout))
	// Bubble Tea ends on SIGINT and SIGTERM; a hang-up (the terminal
	// closed) ends it too, with the terminal's modes put back.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-hup:
			p.Kill()
		case <-done:
		}
	}()
	_, err := p.Run()
	if errors.Is(err, tea.ErrInterrupted) || errors.Is(err, tea.ErrProgramKilled) {
		return nil
	}
	return err
}
