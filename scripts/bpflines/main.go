// Command bpflines turns perf samples taken in BPF programs into a profile
// by source line of bpf/*.c and bpf/*.h, for a kernel whose perf cannot
// annotate BPF (no libopcodes) and whose bpftool cannot dump JIT code (no
// libbfd): the kernel keeps, per loaded program, the JIT address of every
// BTF line (jited_line_info), and that is all a line profile needs.
//
// It reads `perf script -F ip,sym` on stdin (a hex address and a symbol a
// line), keeps the samples whose symbol is a BPF program
// (bpf_prog_<tag>_<name>), finds each program among those loaded (it must
// still be loaded: run it while the tracer runs) and prints, per program,
// its samples and the source lines that took them, most first:
//
//	perf record -a -o perf.data -- sleep 5
//	perf script -i perf.data -F ip,sym | go run ./scripts/bpflines -top 20
//
// scripts/profile-bpf.sh does all of it under bench-churn's load. Needs
// root (CAP_SYS_ADMIN, for the programs' line information).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// lineTable maps JIT addresses to source lines: addrs ascending, with
// lines[i] the line whose code starts at addrs[i].
type lineTable struct {
	addrs []uint64
	lines []string
}

// lineOf gives the line whose code holds addr ("" before the first).
func (t *lineTable) lineOf(addr uint64) string {
	i := sort.Search(len(t.addrs), func(i int) bool { return t.addrs[i] > addr }) - 1
	if i < 0 {
		return ""
	}
	return t.lines[i]
}

// progName gives the program name in a perf symbol of a BPF program.
func progName(sym string) (string, bool) {
	rest, ok := strings.CutPrefix(sym, "bpf_prog_")
	if !ok {
		return "", false
	}
	_, name, ok := strings.Cut(rest, "_") // after the 16-hex tag
	return name, ok && name != ""
}

// samples reads perf script's "ip sym" lines into addresses by program.
func samples(r io.Reader) (map[string][]uint64, error) {
	out := map[string][]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		name, ok := progName(f[1])
		if !ok {
			continue
		}
		ip, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		out[name] = append(out[name], ip)
	}
	return out, sc.Err()
}

// profile counts addresses by line, most first.
func profile(t *lineTable, addrs []uint64) []lineCount {
	counts := map[string]int{}
	for _, a := range addrs {
		counts[t.lineOf(a)]++
	}
	var out []lineCount
	for l, n := range counts {
		out = append(out, lineCount{l, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].line < out[j].line
	})
	return out
}

type lineCount struct {
	line string
	n    int
}

// loadedLines builds the line table of every loaded program with a name
// in want (the last loaded, when several share one).
func loadedLines(want map[string][]uint64) (map[string]*lineTable, error) {
	tables := map[string]*lineTable{}
	var id ebpf.ProgramID
	for {
		var err error
		if id, err = ebpf.ProgramGetNextID(id); err != nil {
			break
		}
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			continue
		}
		if _, ok := want[info.Name]; !ok {
			continue
		}
		lines, err := info.LineInfos()
		if err != nil {
			return nil, fmt.Errorf("%s: line information: %w", info.Name, err)
		}
		addrs, ok := info.JitedLineInfos()
		if !ok || len(addrs) != len(lines) {
			return nil, fmt.Errorf("%s: %d JIT line addresses for %d lines", info.Name, len(addrs), len(lines))
		}
		t := &lineTable{}
		for i, l := range lines {
			t.addrs = append(t.addrs, addrs[i])
			t.lines = append(t.lines, fmt.Sprintf("%s:%d %s", strings.TrimPrefix(l.Line.FileName(), "./../"), l.Line.LineNumber(), strings.TrimSpace(l.Line.Line())))
		}
		sortTable(t)
		tables[info.Name] = t
	}
	return tables, nil
}

// sortTable orders a table by address (the kernel gives them in
// instruction order, which subprograms can break).
func sortTable(t *lineTable) { sort.Sort(byAddr{t}) }

type byAddr struct{ *lineTable }

func (t byAddr) Len() int           { return len(t.addrs) }
func (t byAddr) Less(i, j int) bool { return t.addrs[i] < t.addrs[j] }
func (t byAddr) Swap(i, j int) {
	t.addrs[i], t.addrs[j] = t.addrs[j], t.addrs[i]
	t.lines[i], t.lines[j] = t.lines[j], t.lines[i]
}

func main() {
	top := flag.Int("top", 25, "lines to print per program")
	flag.Parse()
	byProg, err := samples(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpflines:", err)
		os.Exit(1)
	}
	tables, err := loadedLines(byProg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpflines:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(byProg))
	for n := range byProg {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(byProg[names[i]]) > len(byProg[names[j]]) })
	for _, n := range names {
		t := tables[n]
		if t == nil {
			fmt.Printf("== %s: %d samples; not loaded now\n", n, len(byProg[n]))
			continue
		}
		fmt.Printf("== %s: %d samples\n", n, len(byProg[n]))
		for i, lc := range profile(t, byProg[n]) {
			if i == *top {
				break
			}
			fmt.Printf("%5.1f%% %6d  %s\n", 100*float64(lc.n)/float64(len(byProg[n])), lc.n, lc.line)
		}
	}
}
