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
func escapedLikeBpfnetstat(r result) result {
	lines := strings.SplitAfter(r.stdout, "\n")
	for i, line := range lines {
		body := strings.TrimSuffix(line, "\n")
		if output.Escape(body) == body {
			continue
		}
		lines[i] = escapeLine(body) + line[len(body):]
	}
	r.stdout = strings.Join(lines, "")
	return r
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
	}
	for in, want := range tests {
		if got := escapedLikeBpfnetstat(result{stdout: in}).stdout; got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}
