package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// timerSeconds matches the seconds of an -o timer at the end of a line,
// e.g. "timewait (59.43/0/0)". Only these may differ between the runs.
var timerSeconds = regexp.MustCompile(`(?m)( (?:off|on|on[0-9]|keepalive|timewait|probe|unkn-[0-9]+) \()[0-9]+\.[0-9]{2}(/[0-9]+/[0-9]+\))$`)

// maskTimers replaces the seconds inside every -o timer with X.
func maskTimers(s string) string {
	return timerSeconds.ReplaceAllString(s, "${1}X${2}")
}

func (r result) masked() result {
	r.stdout = maskTimers(r.stdout)
	return r
}

func (r result) equal(o result) bool {
	return r.stdout == o.stdout && r.stderr == o.stderr && r.status == o.status
}

// compareRuns runs real netstat, ours, and real netstat again, and passes
// when ours equals either real run. Sockets can legitimately change while
// the three run (a timer switching state, a probe in flight); that shows as
// two different real runs, and then the whole sandwich is retried. When the
// two real runs agree and ours differs, the difference is ours.
func compareRuns(t *testing.T, s *scenario, inv invocation) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		before := s.run(t, realSide, inv).masked()
		ours := s.run(t, oursSide, inv).masked()
		after := s.run(t, realSide, inv).masked()
		if inv.expect != nil {
			before, after = inv.expect(before), inv.expect(after)
		}
		if ours.equal(before) || ours.equal(after) {
			return
		}
		if before.equal(after) {
			t.Error(mismatchReport(inv, before, ours))
			return
		}
		if attempt == attempts {
			t.Errorf("%s: the sockets kept changing under netstat in %d attempts; last difference between two netstat runs:\n%s\n\nand bpfnetstat against the first:\n%s",
				inv, attempts, mismatchReport(inv, before, after), mismatchReport(inv, before, ours))
			return
		}
		t.Logf("attempt %d: netstat's output changed between runs (%s), retrying", attempt, mismatchSummary(before, after))
	}
}

// compareContinuous runs both sides at the same time under timeout, and
// compares the first two complete iterations of stdout (all of it when the
// program ended by itself), all of stderr and the exit status. One retry
// absorbs a socket that changed during the runs.
func compareContinuous(t *testing.T, s *scenario, inv invocation) {
	t.Helper()
	inv.continuous = true
	for attempt := 1; ; attempt++ {
		var real, ours result
		var realErr, oursErr error
		var wg sync.WaitGroup
		wg.Go(func() { real, realErr = s.runErr(realSide, inv) })
		wg.Go(func() { ours, oursErr = s.runErr(oursSide, inv) })
		wg.Wait()
		if err := errors.Join(realErr, oursErr); err != nil {
			t.Fatal(err)
		}
		real, ours = real.masked(), ours.masked()
		realIt, err := firstIterations(real, 2)
		if err != nil {
			t.Fatalf("netstat: %v\nstdout:\n%s", err, showEnds(real.stdout))
		}
		oursIt, err := firstIterations(ours, 2)
		if err != nil {
			oursIt = ours.stdout
			t.Logf("bpfnetstat: %v", err)
		}
		real.stdout, ours.stdout = realIt, oursIt
		if real.equal(ours) {
			return
		}
		if attempt == 2 {
			t.Error(mismatchReport(inv, real, ours))
			return
		}
		t.Logf("attempt %d differs, retrying:\n%s", attempt, mismatchReport(inv, real, ours))
	}
}

// firstIterations returns the first n complete iterations of a -c run that
// was interrupted, and the whole stdout of one that exited by itself. Every
// iteration repeats its headers (only -i prints its title once), so the
// first line that occurs again marks where the next iteration starts; an
// iteration is complete when the next one has started.
func firstIterations(r result, n int) (string, error) {
	if !strings.HasPrefix(r.status, "signal") && r.status != "exit status 130" {
		return r.stdout, nil
	}
	lines := splitLines(r.stdout)
	count := map[string]int{}
	for _, l := range lines {
		count[l]++
	}
	marker := ""
	for _, l := range lines {
		if count[l] > 1 {
			marker = l
			break
		}
	}
	var starts []int // byte offsets of the lines equal to marker
	off := 0
	for line := range strings.Lines(r.stdout) {
		if marker != "" && strings.TrimSuffix(line, "\n") == marker && strings.HasSuffix(line, "\n") {
			starts = append(starts, off)
		}
		off += len(line)
	}
	if len(starts) <= n {
		return "", fmt.Errorf("only %d iteration(s) started before the interrupt (%s), need %d complete", len(starts), r.status, n)
	}
	return r.stdout[:starts[n]], nil
}

// mismatchReport says what differs, with a line diff of each differing
// stream and both outputs in full ('$' marks every line end, so trailing
// blanks show).
func mismatchReport(inv invocation, real, ours result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", inv, mismatchSummary(real, ours))
	for _, stream := range []struct{ name, real, ours string }{
		{"stdout", real.stdout, ours.stdout},
		{"stderr", real.stderr, ours.stderr},
	} {
		if stream.real == stream.ours {
			continue
		}
		fmt.Fprintf(&b, "\n--- %s diff (-netstat +bpfnetstat):\n%s", stream.name, diffLines(stream.real, stream.ours))
	}
	if real.status != ours.status {
		fmt.Fprintf(&b, "\n--- status: netstat %q, bpfnetstat %q", real.status, ours.status)
	}
	for _, out := range []struct{ name, text string }{
		{"netstat stdout", real.stdout}, {"bpfnetstat stdout", ours.stdout},
		{"netstat stderr", real.stderr}, {"bpfnetstat stderr", ours.stderr},
	} {
		fmt.Fprintf(&b, "\n--- %s:\n%s", out.name, showEnds(out.text))
	}
	return b.String()
}

// mismatchSummary is a one-line account of the differences.
func mismatchSummary(real, ours result) string {
	var parts []string
	for _, stream := range []struct{ name, real, ours string }{
		{"stdout", real.stdout, ours.stdout},
		{"stderr", real.stderr, ours.stderr},
	} {
		if stream.real == stream.ours {
			continue
		}
		rl, ol := splitLines(stream.real), splitLines(stream.ours)
		i := 0
		for i < len(rl) && i < len(ol) && rl[i] == ol[i] {
			i++
		}
		first := func(lines []string) string {
			if i < len(lines) {
				return fmt.Sprintf("%q", lines[i])
			}
			return "(end)"
		}
		parts = append(parts, fmt.Sprintf("%s differs from line %d (netstat %d lines, bpfnetstat %d): netstat %s, bpfnetstat %s",
			stream.name, i+1, len(rl), len(ol), first(rl), first(ol)))
	}
	if real.status != ours.status {
		parts = append(parts, fmt.Sprintf("status %q vs %q", real.status, ours.status))
	}
	return strings.Join(parts, "; ")
}

func showEnds(s string) string {
	if s == "" {
		return "(empty)"
	}
	var b strings.Builder
	for _, l := range splitLines(s) {
		b.WriteString(visible(l))
		b.WriteString("$\n")
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("(no newline at end)\n")
	}
	return b.String()
}

// visible makes a line safe and unambiguous to print in a test log: control
// characters and bytes that are not UTF-8 become \xNN, and a backslash
// becomes \\ (so a literal "\x1b" and an ESC byte look different).
func visible(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, line[i])
		default:
			b.WriteString(line[i : i+size])
		}
		i += size
	}
	return b.String()
}

func splitLines(s string) []string {
	var lines []string
	for l := range strings.Lines(s) {
		lines = append(lines, strings.TrimSuffix(l, "\n"))
	}
	return lines
}

// diffLines is a unified-style line diff (longest common subsequence) with
// two lines of context; '$' marks line ends.
func diffLines(a, b string) string {
	x, y := splitLines(a), splitLines(b)
	// lcs[i][j] = length of the LCS of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind  byte // ' ', '-', '+'
		text  string
		aLine int // 1-based position in a
	}
	var ops []op
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i + 1})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i + 1})
			i++
		default:
			ops = append(ops, op{'+', y[j], i + 1})
			j++
		}
	}
	const context, maxLines = 2, 80
	show := make([]bool, len(ops))
	for k, o := range ops {
		if o.kind != ' ' {
			for m := max(0, k-context); m <= min(len(ops)-1, k+context); m++ {
				show[m] = true
			}
		}
	}
	var out strings.Builder
	prev, printed := -2, 0
	for k, o := range ops {
		if !show[k] {
			continue
		}
		if printed == maxLines {
			fmt.Fprintf(&out, "... (diff cut at %d lines)\n", maxLines)
			break
		}
		if k != prev+1 {
			fmt.Fprintf(&out, "@@ netstat line %d @@\n", o.aLine)
		}
		fmt.Fprintf(&out, "%c%s$\n", o.kind, visible(o.text))
		prev = k
		printed++
	}
	if out.Len() == 0 {
		return "(no line differences: only the final newline differs)\n"
	}
	return out.String()
}
