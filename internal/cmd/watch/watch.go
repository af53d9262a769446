// Package watch is the watch subcommand: a live full-screen table of TCP
// connections with their owners, age and bytes (merged's rows), under
// opens/s, closes/s and the TIME_WAIT count; plain snapshots when piped,
// JSON lines with --json. The plain and JSON renderers write to any
// io.Writer; the terminal view is a Bubble Tea model (tui.go) whose layout
// (layout.go) fits the table to the screen's width, and which is tested by
// feeding it sizes, snapshots and keys as messages.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package watch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/term"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// WatchOptions are watch's flags.
type WatchOptions struct {
	Env      cmdutil.Env
	JSON     bool
	Sort     string
	Interval time.Duration
	Count    int
	Wide     bool
	// Identity: --identity, --cgroup, --container.
	Identity cmdutil.IdentityFlags
}

var watchSorts = []string{"state", "owner", "age", "bytes", "container"}

const watchExample = `  # full screen, sorted by bytes; keys s o a b change the order, / filters, q quits
  bpfnetstat watch --sort bytes
  # full screen with whole IPv6 addresses
  bpfnetstat watch --wide
  # three snapshots as JSON lines, two seconds apart
  bpfnetstat watch --json --count 3 --interval 2s`

// NewWatchCmd is the watch subcommand; runF, when not nil, replaces
// WatchRun (tests check the flags with it).
func NewWatchCmd(env cmdutil.Env, runF func(*WatchOptions) error) *cobra.Command {
	o := &WatchOptions{Env: env}
	cmd := &cobra.Command{
		Use:     "watch",
		Short:   "live table of TCP connections with their owners, refreshing in place",
		Example: watchExample,
		Long: "watch shows the merged view: every TCP socket with its owner (TIME_WAIT ones too), " +
			"its age and bytes as the tracer saw them, under a header of opens/s, closes/s, the " +
			"TIME_WAIT count and its top owners, failures/s and lost events. On a terminal the table " +
			"fits the screen (addresses cut as netstat cuts them; --wide keeps them whole). Keys: " +
			"arrows, j/k, PgUp/PgDn, Home/End scroll; s state, o owner, a age, b bytes, c container " +
			"sort; / filters the rows by any text (owner, address, port, state, container), Esc " +
			"clears it; p pauses; ? helps; q or Ctrl-C quits. Colours follow NO_COLOR and the " +
			"terminal. Piped, it prints plain snapshots; --json streams them as JSON lines.",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return WatchRun(o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "stream snapshots as JSON lines")
	f.StringVar(&o.Sort, "sort", "state", "sort by state, owner, age, bytes or container")
	f.DurationVar(&o.Interval, "interval", time.Second, "refresh period")
	f.IntVar(&o.Count, "count", 0, "stop after this many refreshes (0: until q or Ctrl-C)")
	f.BoolVarP(&o.Wide, "wide", "W", false, "on a terminal, do not cut addresses to 23 characters")
	o.Identity.Add(f, true)
	cmdutil.Allowed(f, "interval", cmdutil.WantInterval)
	cmdutil.Allowed(f, "count", cmdutil.WantCount)
	cmd.SetFlagErrorFunc(cmdutil.FlagError)
	return cmd
}

// validate refuses what the flags' types let through.
func (o *WatchOptions) validate() error {
	valid := false
	for _, s := range watchSorts {
		valid = valid || s == o.Sort
	}
	if !valid {
		return cmdutil.Usagef("--sort %q: want one of %s", o.Sort, strings.Join(watchSorts, ", "))
	}
	return cmdutil.FirstError(
		cmdutil.CheckInterval("interval", o.Interval),
		cmdutil.CheckCount("count", o.Count),
	)
}

// WatchRun refreshes the view every o.Interval until q, a signal or
// o.Count refreshes.
func WatchRun(o *WatchOptions) error {
	env := o.Env
	cmdutil.TuneForRefresh(env)
	tty := !o.JSON && term.IsTerminal(env.Stdout)
	var stderrLines []string
	ids, err := o.Identity.Open(env)
	if err != nil {
		return err
	}
	defer ids.Close()
	src := cmdutil.NewMergedSource(env, func(s string) { stderrLines = append(stderrLines, s) }, ids)
	defer src.Close()
	// The one line about what is missing goes out before the screen is taken.
	for _, l := range stderrLines {
		fmt.Fprintln(env.Stderr, l)
	}

	if tty {
		return runTerminal(o, src, ids)
	}
	sigs := make(chan os.Signal, 1)
	// SIGHUP (the session going away) ends the plain snapshots cleanly as
	// SIGTERM does; on a terminal runTerminal handles it and puts the
	// terminal back.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	w := bufio.NewWriter(env.Stdout)
	lo, hi := merged.EphemeralRange(src.FS())
	var lastOpens, lastCloses uint64
	if src.Live() != nil {
		lastOpens, lastCloses = src.Live().Rates()
	}
	last := time.Now()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	var sweepNotes merged.SweepNotes
	for n := 1; ; n++ {
		rows := src.Rows()
		kept := rows[:0]
		for i := range rows {
			if ids.WantsRow(rows[i].Ident) {
				kept = append(kept, rows[i])
			}
		}
		rows = kept
		now := time.Now()
		var opensPS, closesPS float64
		if src.Live() != nil {
			opens, closes := src.Live().Rates()
			secs := now.Sub(last).Seconds()
			if secs > 0 {
				opensPS, closesPS = float64(opens-lastOpens)/secs, float64(closes-lastCloses)/secs
			}
			lastOpens, lastCloses = opens, closes
		}
		last = now
		sum := merged.Summarize(rows, lo, hi, 3)
		sortRows(rows, o.Sort)
		if o.JSON {
			writeWatchJSON(w, now, opensPS, closesPS, sum, rows)
		} else {
			writeWatchText(&lineCutter{w: w}, now, opensPS, closesPS, sum, rows, o.Sort, false, 0, src.Live() != nil, o.Identity.Show)
		}
		if err := w.Flush(); err != nil {
			return cmdutil.WriteError(err)
		}
		sweepNotes.Check(src.Live(), env.Stderr)
		if o.Count > 0 && n >= o.Count {
			return nil
		}
		select {
		case <-tick.C:
		case <-sigs:
			return nil
		}
	}
}

// stateOrder is the default sort: connections in their life's order, then
// what is left of them, listeners last.
var stateOrder = map[conn.State]int{
	conn.TCPEstablished: 0, conn.TCPSynSent: 1, conn.TCPSynRecv: 2, conn.TCPFinWait1: 3, conn.TCPFinWait2: 4,
	conn.TCPCloseWait: 5, conn.TCPLastAck: 6, conn.TCPClosing: 7, conn.TCPTimeWait: 8, conn.TCPClose: 9, conn.TCPListen: 10,
}

func sortRows(rows []merged.Row, by string) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		switch by {
		case "owner":
			ka, _ := merged.OwnerKey(a)
			kb, _ := merged.OwnerKey(b)
			if ka != kb {
				return ka < kb
			}
		case "age":
			if a.AgeNs != b.AgeNs {
				return a.AgeNs > b.AgeNs
			}
		case "bytes":
			if a.Tx+a.Rx != b.Tx+b.Rx {
				return a.Tx+a.Rx > b.Tx+b.Rx
			}
		case "container":
			// Rows in a container first, grouped by it.
			ca, cb := containerOf(a), containerOf(b)
			if ca != cb {
				return ca != "" && (cb == "" || ca < cb)
			}
		}
		if a.Sock.State != b.Sock.State {
			return stateOrder[conn.State(a.Sock.State)] < stateOrder[conn.State(b.Sock.State)]
		}
		return localLess(a.Sock.Local, b.Sock.Local)
	})
}

// localLess orders local addresses by their text, as they print, without
// a string per comparison: a sort of 100,000 rows compares about 1.7
// million times.
func localLess(a, b netip.AddrPort) bool {
	var ba, bb [64]byte
	return bytes.Compare(a.AppendTo(ba[:0]), b.AppendTo(bb[:0])) < 0
}

func containerOf(r *merged.Row) string {
	if r.Ident == nil {
		return ""
	}
	return r.Ident.ContainerID
}

func identOf(r *merged.Row) cgroups.Identity {
	if r.Ident == nil {
		return cgroups.Identity{}
	}
	return *r.Ident
}

func addrPort(r *merged.Row, remote bool) string {
	ap := r.Sock.Local
	if remote {
		ap = r.Sock.Remote
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(ap.Port()))
	}
	return a.String() + ":" + strconv.Itoa(int(ap.Port()))
}

func ageText(ns uint64) string {
	if ns == 0 {
		return "-"
	}
	d := time.Duration(ns)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Truncate(time.Minute).String()
}

// lineCutter cuts every line written through it to cols characters (0:
// no cut): on the full screen a row that wraps (a 250-byte program name)
// would push the title off the top.
type lineCutter struct {
	w    *bufio.Writer
	cols int
	col  int // characters written on the current line
}

func (c *lineCutter) Write(p []byte) (int, error) {
	if c.cols <= 0 {
		return c.w.Write(p)
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == '\n':
			c.col = 0
			c.w.WriteByte('\n')
		case c.col < c.cols:
			c.col++
			c.w.Write(p[i : i+size])
		}
		i += size
	}
	return len(p), nil
}

func (c *lineCutter) WriteString(s string) (int, error) { return c.Write([]byte(s)) }

func writeWatchText(w *lineCutter, now time.Time, opensPS, closesPS float64, sum merged.Summary, rows []merged.Row, sortBy string, tty bool, limit int, traced, identity bool) {
	top := make([]string, 0, len(sum.ByOwner))
	for _, c := range sum.ByOwner {
		top = append(top, fmt.Sprintf("%s %d", output.Escape(c.Key), c.Count))
	}
	rates := "opens/s -  closes/s -"
	if traced {
		rates = fmt.Sprintf("opens/s %.1f  closes/s %.1f", opensPS, closesPS)
	}
	fmt.Fprintf(w, "bpfnetstat watch  %s  %s  TIME_WAIT %d (top: %s)  sort: %s\n",
		now.Format("15:04:05"), rates, sum.TimeWait, strings.Join(top, ", "), sortBy)
	if tty {
		w.WriteString("keys: s state  o owner  a age  b bytes  q quit\n")
	}
	head := fmt.Sprintf("%-5s %-45s %-45s %-11s %-24s %8s %10s %10s %s", "Proto", "Local Address", "Foreign Address", "State", "PID/Program name", "Age", "TX", "RX", "Owner")
	if identity {
		head = fmt.Sprintf("%-5s %-45s %-45s %-11s %-24s %8s %10s %10s %-8s %s", "Proto", "Local Address", "Foreign Address", "State", "PID/Program name", "Age", "TX", "RX", "Owner", output.IdentityHeader)
	}
	w.WriteString(head + "\n")
	for i := range rows {
		if limit > 0 && i >= limit {
			fmt.Fprintf(w, "... %d more\n", len(rows)-i)
			break
		}
		r := &rows[i]
		proto := "tcp"
		if r.Sock.Family == 10 {
			proto = "tcp6"
		}
		owner, src := "-", "-"
		if r.HasOwner {
			owner = output.Escape(strconv.Itoa(r.Owner.PID) + "/" + r.Owner.Name)
			src = r.Owner.Source
			if src == "" {
				src = "fd"
			}
		}
		if identity {
			fmt.Fprintf(w, "%-5s %-45s %-45s %-11s %-24s %8s %10d %10d %-8s %s\n", proto, addrPort(r, false), addrPort(r, true),
				conn.State(r.Sock.State).String(), owner, ageText(r.AgeNs), r.Tx, r.Rx, src, output.IdentityText(identOf(r)))
			continue
		}
		fmt.Fprintf(w, "%-5s %-45s %-45s %-11s %-24s %8s %10d %10d %s\n", proto, addrPort(r, false), addrPort(r, true),
			conn.State(r.Sock.State).String(), owner, ageText(r.AgeNs), r.Tx, r.Rx, src)
	}
	if !tty {
		w.WriteString("\n")
	}
}

// watchJSON is one snapshot of bpfnetstat watch --json.
type watchJSON struct {
	Time        string          `json:"time"`
	OpensPerS   float64         `json:"opens_per_s"`
	ClosesPerS  float64         `json:"closes_per_s"`
	TimeWait    int             `json:"time_wait"`
	TopTWOwners []merged.Count  `json:"top_time_wait_owners"`
	Conns       []watchConnJSON `json:"connections"`
}

type watchConnJSON struct {
	Family      string `json:"family"`
	LAddr       string `json:"laddr"`
	LPort       uint16 `json:"lport"`
	RAddr       string `json:"raddr"`
	RPort       uint16 `json:"rport"`
	State       string `json:"state"`
	PID         int    `json:"pid,omitempty"`
	Program     string `json:"program,omitempty"`
	OwnerSource string `json:"owner_source,omitempty"`
	AgeMS       int64  `json:"age_ms,omitempty"`
	TxBytes     uint64 `json:"tx_bytes"`
	RxBytes     uint64 `json:"rx_bytes"`
	Direction   string `json:"direction"`
	Inode       uint64 `json:"inode"`
	Cgroup      string `json:"cgroup"`
	ContainerID string `json:"container_id"`
	PodUID      string `json:"pod_uid"`
	Unit        string `json:"unit"`
}

// watchHeadJSON is a snapshot without its connections: those are written
// one at a time, so that a snapshot of 100,000 rows is never held twice
// more (as structs, then as one JSON text) on top of the rows.
type watchHeadJSON struct {
	Time        string         `json:"time"`
	OpensPerS   float64        `json:"opens_per_s"`
	ClosesPerS  float64        `json:"closes_per_s"`
	TimeWait    int            `json:"time_wait"`
	TopTWOwners []merged.Count `json:"top_time_wait_owners"`
}

// writeWatchJSON writes one snapshot as one JSON line, the same text as
// json.Marshal of a watchJSON, streaming the connections.
func writeWatchJSON(w *bufio.Writer, now time.Time, opensPS, closesPS float64, sum merged.Summary, rows []merged.Row) {
	head := watchHeadJSON{Time: now.Format(time.RFC3339Nano), OpensPerS: opensPS, ClosesPerS: closesPS,
		TimeWait: sum.TimeWait, TopTWOwners: sum.ByOwner}
	if head.TopTWOwners == nil {
		head.TopTWOwners = []merged.Count{}
	}
	for i := range head.TopTWOwners {
		head.TopTWOwners[i].Key = output.Escape(head.TopTWOwners[i].Key)
	}
	b, _ := json.Marshal(head)
	w.Write(b[:len(b)-1]) // without its closing brace
	w.WriteString(`,"connections":[`)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range rows {
		r := &rows[i]
		c := watchConnJSON{Family: r.Sock.Family.String(), LAddr: addrText(r.Sock.Local.Addr()), LPort: r.Sock.Local.Port(),
			RAddr: addrText(r.Sock.Remote.Addr()), RPort: r.Sock.Remote.Port(), State: conn.State(r.Sock.State).String(),
			AgeMS: int64(r.AgeNs / 1e6), TxBytes: r.Tx, RxBytes: r.Rx, Direction: r.Dir, Inode: r.Sock.Inode}
		id := identOf(r)
		c.Cgroup, c.ContainerID, c.PodUID, c.Unit = output.Escape(id.Path), id.ContainerID, id.PodUID, output.Escape(id.Unit)
		if r.HasOwner {
			c.PID, c.Program, c.OwnerSource = r.Owner.PID, output.Escape(r.Owner.Name), r.Owner.Source
			if c.OwnerSource == "" {
				c.OwnerSource = "fd"
			}
		}
		if i > 0 {
			w.WriteByte(',')
		}
		buf.Reset()
		enc.Encode(c)
		w.Write(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
	}
	w.WriteString("]}\n")
}

// addrText is an address as JSON gives it: IPv4-mapped addresses unmapped.
// The common ones are constants, not a string per row.
func addrText(a netip.Addr) string {
	a = a.Unmap()
	switch a {
	case loopback4:
		return "127.0.0.1"
	case any4:
		return "0.0.0.0"
	case loopback6:
		return "::1"
	case any6:
		return "::"
	}
	return a.String()
}

var (
	loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	any4      = netip.IPv4Unspecified()
	loopback6 = netip.IPv6Loopback()
	any6      = netip.IPv6Unspecified()
)
