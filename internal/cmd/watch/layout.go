package watch

import (
	"strconv"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// The terminal table's columns, in screen order.
const (
	colProto = iota
	colLocal
	colForeign
	colState
	colProgram
	colAge
	colTX
	colRX
	colSource
	colContainer // with --identity only
	colUnit      // with --identity only
	nCols
)

var colTitles = [nCols]string{"Proto", "Local Address", "Foreign Address", "State", "PID/Program name", "Age", "TX", "RX", "Owner", "Container", "Unit"}

// rightAligned columns are numbers.
var rightAligned = [nCols]bool{colAge: true, colTX: true, colRX: true}

// dropOrder is which columns give way, first to last, when the terminal is
// too narrow for all of them: the owner's source, the byte counts, the
// unit, the protocol, the age, then the container. Addresses, state and
// program always stay.
var dropOrder = []int{colSource, colRX, colTX, colUnit, colProto, colAge, colContainer}

// minProgram is the narrowest the PID/Program column gets before the
// addresses are cut further.
const minProgram = 12

// cell is one row of the terminal table: its texts, and its row's
// searchable text for the filter.
type cell struct {
	text   [nCols]string
	state  conn.State
	search string // lower case
}

// netstatAddr is host:port as netstat writes it in a socket table: the
// port 0 as *, and without wide the whole cut to 23 characters keeping
// the port (netstat's own rule, see output/classic.go).
func netstatAddr(host string, port uint16, wide bool) string {
	p := "*"
	if port != 0 {
		p = strconv.Itoa(int(port))
	}
	if !wide && len(host)+len(p) > 22 {
		pl := min(len(p), 18)
		p = p[:pl]
		host = host[:22-pl]
	}
	return host + ":" + p
}

// cells turns rows into the table's texts.
func cells(rows []merged.Row, wide bool) []cell {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	out := make([]cell, len(rows))
	for i := range rows {
		r := &rows[i]
		c := &out[i]
		c.state = conn.State(r.Sock.State)
		proto := "tcp"
		if r.Sock.Family == 10 {
			proto = "tcp6"
		}
		program, src := "-", "-"
		if r.HasOwner {
			program = output.Escape(strconv.Itoa(r.Owner.PID) + "/" + r.Owner.Name)
			src = r.Owner.Source
			if src == "" {
				src = "fd"
			}
		}
		c.text = [nCols]string{
			proto,
			netstatAddr(r.Sock.Local.Addr().Unmap().String(), r.Sock.Local.Port(), wide),
			netstatAddr(r.Sock.Remote.Addr().Unmap().String(), r.Sock.Remote.Port(), wide),
			c.state.String(), program, ageText(r.AgeNs),
			strconv.FormatUint(r.Tx, 10), strconv.FormatUint(r.Rx, 10), src, "-", "-",
		}
		id := identOf(r)
		cid := id.ContainerID
		if len(cid) > 12 {
			cid = cid[:12]
		}
		c.text[colContainer], c.text[colUnit] = dash(cid), dash(output.Escape(id.Unit))
		// The filter sees the full addresses even when the screen cuts
		// them, and the whole identity.
		c.search = strings.ToLower(strings.Join(append(c.text[:], addrPort(r, false), addrPort(r, true), r.Dir,
			id.ContainerID, id.PodUID, output.Escape(id.Path)), " "))
	}
	return out
}

// layout is the widths of the columns shown (0: hidden).
type layout [nCols]int

// fit picks the column widths for a terminal width: each column as wide
// as its widest text, columns dropped in dropOrder while the table is
// wider than the screen, then the program and the addresses cut. A row
// of the result is never wider than width. The identity columns are there
// only with identity.
func fit(cs []cell, width int, identity bool) layout {
	var l layout
	for i := range nCols {
		l[i] = len(colTitles[i])
	}
	for _, c := range cs {
		for i := range nCols {
			l[i] = max(l[i], textWidth(c.text[i]))
		}
	}
	if !identity {
		l[colContainer], l[colUnit] = 0, 0
	}
	total := func() int {
		n, sep := 0, 0
		for _, w := range l {
			if w > 0 {
				n += w + sep
				sep = 1
			}
		}
		return n
	}
	for _, col := range dropOrder {
		if total() <= width {
			return l
		}
		l[col] = 0
	}
	if over := total() - width; over > 0 {
		l[colProgram] -= min(over, max(0, l[colProgram]-minProgram))
	}
	// Then the two addresses, the wider first, down to 9 each.
	for total() > width && max(l[colLocal], l[colForeign]) > 9 {
		if l[colLocal] >= l[colForeign] {
			l[colLocal]--
		} else {
			l[colForeign]--
		}
	}
	for total() > width && l[colProgram] > 1 {
		l[colProgram]--
	}
	return l
}

// line writes one row's texts in the layout, each cut to its column.
func (l layout) line(text *[nCols]string) string {
	var b strings.Builder
	for i := range nCols {
		if l[i] == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		s := cutTo(text[i], l[i])
		pad := strings.Repeat(" ", l[i]-textWidth(s))
		if rightAligned[i] {
			b.WriteString(pad + s)
		} else {
			b.WriteString(s + pad)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// textWidth is the screen width of an escaped text: one cell a rune
// (output.Escape leaves no control characters; program names are short
// and, for the rare wide rune, the final cut to the screen width still
// holds).
func textWidth(s string) int { return len([]rune(s)) }

// cutTo cuts s to n cells, marking the cut with a '~' as the last cell.
func cutTo(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "~"
}
