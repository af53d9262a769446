package docgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWritesOnePagePerCommandAndBothNamesCompletions: the page set follows
// the tree, the main page carries the netstat options, and each name's
// scripts call back the program of that name.
func TestWritesOnePagePerCommandAndBothNamesCompletions(t *testing.T) {
	dir := t.TempDir()
	if err := WriteManPages(filepath.Join(dir, "man"), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "man", "*.8"))
	var names []string
	for _, p := range pages {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".8"))
	}
	for _, want := range []string{"bpfnetstat", "bpfnetstat-trace", "bpfnetstat-life", "bpfnetstat-watch",
		"bpfnetstat-timewait", "bpfnetstat-doctor", "bpfnetstat-version", "bpfnetstat-completion"} {
		if !slices.Contains(names, want) {
			t.Errorf("no page %s in %q", want, names)
		}
	}
	if slices.Contains(names, "bpfnetstat-help") {
		t.Error("a page for the help command")
	}
	main, err := os.ReadFile(filepath.Join(dir, "man", "bpfnetstat.8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "BPFNETSTAT" "8" "Jan 1970"`, ".SH NETSTAT OPTIONS", `\fB--numeric-hosts\fP`,
		".SH EXIT STATUS", ".SH ESCAPING", ".SH JSON", ".SH EXAMPLE"} {
		if !strings.Contains(string(main), want) {
			t.Errorf("bpfnetstat.8 lacks %q", want)
		}
	}
	if strings.Contains(string(main), "Auto generated") {
		t.Error("bpfnetstat.8 carries cobra's generated-by line")
	}

	if err := WriteCompletions(filepath.Join(dir, "comp")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bpfnetstat", "netstat"} {
		for _, f := range []string{"bash/" + name, "zsh/_" + name, "fish/" + name + ".fish"} {
			b, err := os.ReadFile(filepath.Join(dir, "comp", f))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), name) || !strings.Contains(string(b), "__complete") {
				t.Errorf("%s does not complete %s through __complete", f, name)
			}
		}
	}
}
