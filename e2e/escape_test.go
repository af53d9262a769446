package e2e

import (
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/output"
)

// escapedLikeBpfnetstat applies bpfnetstat's escaping rule to the real
// netstat's stdout: every word holding bytes to escape is escaped, and the
// padding that followed it inside its column (the 20-column PID/Program
// name cell) shrinks by what escaping added, down to none; the one space
// that separates it from a following column stays.
//
// A newline inside a program name splits netstat's row in two (whether it
// does depends on the PID's width, since netstat cuts "PID/name" to 19
// bytes). Such a newline is found by what follows it: every row and
// header of the socket views starts with a known word, a name's tail does
// not. It is carried through escaping as a same-width stand-in byte.
func escapedLikeBpfnetstat(r result) result {
	lines := joinSplitNames(strings.SplitAfter(r.stdout, "\n"))
	for i, line := range lines {
		body := strings.TrimSuffix(line, "\n")
		if output.Escape(body) == body {
			continue
		}
		lines[i] = strings.ReplaceAll(escapeLine(body), `\x01`, `\x0a`) + line[len(body):]
	}
	r.stdout = strings.Join(lines, "")
	return r
}

// rowStarts are the first words of every line the socket views print.
var rowStarts = []string{"Active ", "Proto ", "tcp", "udp", "raw", "unix", "\n"}

// joinSplitNames glues a line that does not start like a row back onto the
// line before it, with \x01 standing for the newline that split them.
func joinSplitNames(lines []string) []string {
	out := lines[:0:0]
	for i, line := range lines {
		isRow := i == 0 || line == ""
		for _, w := range rowStarts {
			isRow = isRow || strings.HasPrefix(line, w)
		}
		if isRow || len(out) == 0 {
			out = append(out, line)
			continue
		}
		prev := out[len(out)-1]
		out[len(out)-1] = strings.TrimSuffix(prev, "\n") + "\x01" + line
	}
	return out
}

func escapeLine(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			b.WriteByte(' ')
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		word := line[i:j]
		esc := output.Escape(word)
		b.WriteString(esc)
		i = j
		if added := len(esc) - len(word); added > 0 {
			k := j
			for k < len(line) && line[k] == ' ' {
				k++
			}
			pad := k - j
			if k < len(line) {
				pad-- // the separator before the next column
			}
			i += min(added, pad)
		}
	}
	return b.String()
}

func TestEscapeLine(t *testing.T) {
	tests := map[string]string{
		"tcp  1/evil\x1b[31m\xffna   off": `tcp  1/evil\x1b[31m\xffna off`,
		"unix 9      -  /run/a\x1bb":      `unix 9      -  /run/a\x1bb`,
		"x 12/ab\x07              \n":     "x 12/ab\\x07           \n",
		"plain line stays":                "plain line stays",
		// A 3-digit PID leaves room for the name's newline (and a
		// 2-digit one for a byte after it): netstat's row splits.
		"tcp  LISTEN      699/evil\x1b[31m\xffname\n \ntcp  x\n": "tcp  LISTEN      699/evil\\x1b[31m\\xffname\\x0a\ntcp  x\n",
		"tcp  LISTEN      69/evil\x1b[31m\xffname\nl\nudp  x\n":  "tcp  LISTEN      69/evil\\x1b[31m\\xffname\\x0al\nudp  x\n",
	}
	for in, want := range tests {
		if got := escapedLikeBpfnetstat(result{stdout: in}).stdout; got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}
