package e2e

import (
	"strings"
	"testing"
)

// Tests of the harness's own pieces; they need no root.

func TestMaskTimers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tcp ... TIME_WAIT   timewait (59.43/0/0)\n", "tcp ... TIME_WAIT   timewait (X/0/0)\n"},
		{"a keepalive (7199.83/0/0)\nb off (0.00/0/0)\n", "a keepalive (X/0/0)\nb off (X/0/0)\n"},
		{"x probe (0.10/3/7)", "x probe (X/3/7)"},
		{"x on2 (0.20/0/0)\nx unkn-9 (1.00/0/0)\n", "x on2 (X/0/0)\nx unkn-9 (X/0/0)\n"},
		// retransmits and probes stay; text that is not a final timer stays.
		{"x probe (0.10/1/0) tail\n", "x probe (0.10/1/0) tail\n"},
		{"unix  2 [ ] DGRAM 1 /tmp/off (1.00/0/0)x\n", "unix  2 [ ] DGRAM 1 /tmp/off (1.00/0/0)x\n"},
	} {
		if got := maskTimers(tc.in); got != tc.want {
			t.Errorf("maskTimers(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFirstIterations(t *testing.T) {
	three := "H1\nH2\na\nH1\nH2\nb\nH1\nH2\nc"
	got, err := firstIterations(result{stdout: three, status: "exit status 130"}, 2)
	if err != nil || got != "H1\nH2\na\nH1\nH2\nb\n" {
		t.Errorf("interrupted run: got %q, %v", got, err)
	}
	if _, err := firstIterations(result{stdout: "H1\na\nH1\nb\n", status: "exit status 130"}, 2); err == nil {
		t.Error("two started iterations: want an error, only one is known to be complete")
	}
	title := "T\nH\na\nH\nb\nH\nc\n" // -i prints its title once
	if got, err := firstIterations(result{stdout: title, status: "exit status 130"}, 2); err != nil || got != "T\nH\na\nH\nb\n" {
		t.Errorf("title printed once: got %q, %v", got, err)
	}
	whole := "H1\nx\n"
	if got, err := firstIterations(result{stdout: whole, status: "exit status 1"}, 2); err != nil || got != whole {
		t.Errorf("run that ended by itself: got %q, %v; want all of stdout", got, err)
	}
}

func TestDiffLines(t *testing.T) {
	a := "h\n1\n2\n3\n4\n5\n6\n7\n8\n"
	b := "h\n1\n2\nthree\n4\n5\n6\n7\n8\nextra\n"
	want := "@@ netstat line 2 @@\n 1$\n 2$\n-3$\n+three$\n 4$\n 5$\n@@ netstat line 8 @@\n 7$\n 8$\n+extra$\n"
	if got := diffLines(a, b); got != want {
		t.Errorf("diffLines:\n%s\nwant:\n%s", got, want)
	}
	if got := diffLines("a  \n", "a\n"); !strings.Contains(got, "-a  $") || !strings.Contains(got, "+a$") {
		t.Errorf("trailing blanks not visible: %q", got)
	}
}

func TestMismatchSummary(t *testing.T) {
	got := mismatchSummary(
		result{stdout: "a\nb\n", stderr: "", status: "exit status 0"},
		result{stdout: "a\nc\n", stderr: "", status: "exit status 1"})
	for _, want := range []string{`stdout differs from line 2`, `netstat "b", bpfnetstat "c"`, `status "exit status 0" vs "exit status 1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "stderr") {
		t.Errorf("summary %q mentions stderr, which is equal", got)
	}
}

func TestPrivateNsswitch(t *testing.T) {
	in := "# comment hosts: dns\npasswd:         files systemd\nhosts:          files mdns4_minimal [NOTFOUND=return] dns\nservices:       db files\n"
	got := privateNsswitch(in)
	for _, want := range []string{"# comment hosts: dns\n", "passwd:         files\n", "hosts:          files\n", "services:       db files\n", "networks:       files\n", "group:          files\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("privateNsswitch output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "dns\n") && !strings.Contains(got, "# comment hosts: dns") || strings.Count(got, "dns") != 1 {
		t.Errorf("dns still configured:\n%s", got)
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text  ":       "plain text  ",
		"esc\x1b[31m":        `esc\x1b[31m`,
		`literal\x1b`:        `literal\\x1b`,
		"bad\xff\xfeutf8 wö": `bad\xff\xfeutf8 wö`,
		"tab\there\x7f":      `tab\x09here\x7f`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}
