package merged

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A view says each run of failed sweeps once, as it begins, and a run that
// begins after a sweep worked again is said again.
func TestSweepNotes(t *testing.T) {
	var l Live
	var n SweepNotes
	var out bytes.Buffer
	check := func(want string) {
		t.Helper()
		out.Reset()
		n.Check(&l, &out)
		if got := out.String(); want == "" && got != "" || want != "" && !strings.Contains(got, want) || strings.Count(got, "\n") > 1 {
			t.Errorf("said %q, want a line with %q", got, want)
		}
	}
	check("") // no sweep yet
	l.noteSweep(nil)
	check("")
	l.noteSweep(errors.New("dump: no buffer space"))
	check("sweeping the kept socket states: dump: no buffer space; trying again every 10s")
	l.noteSweep(errors.New("dump: interrupted"))
	check("") // the same run
	if f := l.SweepFailing(); f == nil || f.Run != 1 || f.Err.Error() != "dump: interrupted" {
		t.Errorf("SweepFailing %+v, want run 1 with the last error", f)
	}
	l.noteSweep(nil)
	check("")
	if f := l.SweepFailing(); f != nil {
		t.Errorf("SweepFailing %+v after a sweep that worked", f)
	}
	l.noteSweep(errors.New("open: too many open files"))
	check("open: too many open files")
	check("")
	n.Check(nil, &out) // a view without a tracer
	if out.Len() != 0 {
		t.Errorf("no tracer: said %q", out.String())
	}
}
