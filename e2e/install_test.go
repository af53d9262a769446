package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The install tests run the Makefile as a user would. Each builds into a
// directory of its own (BUILDDIR), never into the source tree's bin/.

// needTools skips t (or fails it under BPFNETSTAT_REQUIRE_ROOT=1) when a
// tool the test drives is missing; scripts/install-test-deps.sh installs
// them all.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if _, serr := os.Stat(tool); serr != nil {
				missing = append(missing, tool)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("needs %s (scripts/install-test-deps.sh)", strings.Join(missing, ", "))
	if os.Getenv(envRequireRoot) == "1" {
		t.Fatalf("%s, and %s=1 forbids skipping", msg, envRequireRoot)
	}
	t.Skip(msg)
}

const bashCompletion = "/usr/share/bash-completion/bash_completion"

func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// filesUnder lists the regular files and symlinks below root, relative.
func filesUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, "/"+rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// manPageSections: what every page and the main page must hold.
var (
	everyPageSections = []string{"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"}
	mainPageSections  = []string{"NETSTAT OPTIONS", "FAMILIES", "ESCAPING", "JSON", "ENVIRONMENT", "EXAMPLE", "SEE ALSO"}
)

// checkManPage renders page with man -l and checks its sections, and that
// groff has nothing to warn about.
func checkManPage(t *testing.T, page string, sections []string, phrases ...string) {
	t.Helper()
	cmd := exec.Command("man", "--warnings", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("man -l %s: %v, stderr %q", page, err, errb.String())
		return
	}
	text := out.String()
	for _, s := range sections {
		if !strings.Contains(text, "\n"+s+"\n") {
			t.Errorf("%s: no %s section", filepath.Base(page), s)
		}
	}
	for _, p := range phrases {
		if !strings.Contains(text, p) {
			t.Errorf("%s: lacks %q", filepath.Base(page), p)
		}
	}
}

// TestMakeInstallAndUninstall: make install with DESTDIR, PREFIX and the
// netstat symlink installs the binary, one rendering man page per command
// with its sections, the completions of both names (which work in a real
// bash), the JSON documents; make uninstall removes every file of it.
func TestMakeInstallAndUninstall(t *testing.T) {
	needTools(t, "make", "man", "bash", bashCompletion)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	vars := []string{"BUILDDIR=" + filepath.Join(tmp, "build"), "DESTDIR=" + dest, "PREFIX=/opt/bns", "INSTALL_NETSTAT=1"}
	runIn(t, root, nil, "make", append([]string{"install"}, vars...)...)

	got := filesUnder(t, dest)
	prefix := "/opt/bns"
	want := []string{
		prefix + "/bin/bpfnetstat",
		prefix + "/bin/netstat",
		prefix + "/share/bash-completion/completions/bpfnetstat",
		prefix + "/share/bash-completion/completions/netstat",
		prefix + "/share/doc/bpfnetstat/bpfnetstat.schema.json",
		prefix + "/share/doc/bpfnetstat/json.md",
		prefix + "/share/fish/vendor_completions.d/bpfnetstat.fish",
		prefix + "/share/fish/vendor_completions.d/netstat.fish",
		prefix + "/share/zsh/site-functions/_bpfnetstat",
		prefix + "/share/zsh/site-functions/_netstat",
	}
	if _, err := os.Stat(filepath.Join(root, "deploy/systemd/bpfnetstat-agent.service")); err == nil {
		want = append(want, prefix+"/lib/systemd/system/bpfnetstat-agent.service")
	}
	commands := []string{"trace", "life", "watch", "timewait", "doctor", "version", "completion"}
	want = append(want, prefix+"/share/man/man8/bpfnetstat.8")
	for _, c := range commands {
		want = append(want, prefix+"/share/man/man8/bpfnetstat-"+c+".8")
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("make install did not install %s", w)
		}
	}
	if t.Failed() {
		t.Fatalf("installed: %q", got)
	}
	if slices.Contains(want, prefix+"/lib/systemd/system/bpfnetstat-agent.service") {
		unit, _ := os.ReadFile(filepath.Join(dest, prefix, "lib/systemd/system/bpfnetstat-agent.service"))
		if !strings.Contains(string(unit), "\nExecStart="+prefix+"/bin/bpfnetstat agent") {
			t.Errorf("the installed unit does not run %s/bin/bpfnetstat:\n%s", prefix, unit)
		}
	}
	bin := filepath.Join(dest, prefix, "bin")
	if l, err := os.Readlink(filepath.Join(bin, "netstat")); err != nil || l != "bpfnetstat" {
		t.Errorf("netstat symlink: %q, %v", l, err)
	}
	if out := runIn(t, root, nil, filepath.Join(bin, "bpfnetstat"), "version"); !strings.HasPrefix(out, "bpfnetstat ") || strings.HasPrefix(out, "bpfnetstat 0.1.0-dev\n") {
		t.Errorf("installed binary's version is not stamped from git: %q", out)
	}

	man := filepath.Join(dest, prefix, "share/man/man8")
	checkManPage(t, filepath.Join(man, "bpfnetstat.8"), append(everyPageSections, mainPageSections...),
		"-t, --tcp", "--numeric-hosts", "-A af, --protocol=af", "-4", "inet6", "\\xHH", "json.md",
		"bpfnetstat.schema.json", "bpfnetstat -tulpn", "bpfnetstat-trace(8)")
	for _, c := range commands {
		sections := everyPageSections
		switch c {
		case "trace", "life", "watch", "timewait":
			sections = append(sections, "ESCAPING", "JSON", "OPTIONS", "EXAMPLE")
		case "doctor", "version":
			sections = append(sections, "EXAMPLE")
		}
		checkManPage(t, filepath.Join(man, "bpfnetstat-"+c+".8"), sections, "bpfnetstat(8)")
	}

	// The installed completion scripts, sourced as bash-completion does,
	// complete both names from the installed binary. Each candidate is
	// read back as the shell reads the inserted word (a lone candidate is
	// inserted quoted: inet\,unix).
	comp := filepath.Join(dest, prefix, "share/bash-completion/completions")
	for _, tc := range []struct {
		name  string
		words []string
		want  string
	}{
		{"bpfnetstat", []string{"bpfnetstat", "tim"}, "timewait"},
		{"bpfnetstat", []string{"bpfnetstat", "--prog"}, "--programs"},
		{"bpfnetstat", []string{"bpfnetstat", "life", "--js"}, "--json"},
		{"netstat", []string{"netstat", "--numeric-p"}, "--numeric-ports"},
		{"netstat", []string{"netstat", "-A", "inet,un"}, "inet,unix"},
		{"netstat", []string{"netstat", "tr"}, ""},
	} {
		sh := fmt.Sprintf("source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=\"${COMP_WORDS[*]}\"; "+
			"COMP_POINT=${#COMP_LINE}; __start_%s; for w in \"${COMPREPLY[@]}\"; do eval \"printf '%%s\\n' $w\"; done",
			bashCompletion, filepath.Join(comp, tc.name), strings.Join(tc.words, " "), len(tc.words)-1, tc.name)
		cmd := exec.Command("bash", "--norc", "-c", sh)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		var errb bytes.Buffer
		cmd.Stderr = &errb // compopt complains outside a real completion
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("bash completion of %q: %q (%v, %s), want %q", tc.words, got, err, errb.String(), tc.want)
		}
	}

	// A netstat that is not the symlink (net-tools') survives uninstall.
	runIn(t, root, nil, "make", append([]string{"uninstall"}, vars...)...)
	if left := filesUnder(t, dest); len(left) != 0 {
		t.Errorf("make uninstall left %q", left)
	}
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "netstat"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(t, root, nil, "make", append([]string{"uninstall"}, vars...)...)
	if left := filesUnder(t, dest); !slices.Equal(left, []string{prefix + "/bin/netstat"}) {
		t.Errorf("make uninstall with a foreign netstat left %q", left)
	}
}

// TestDebPackage builds the package with make deb, installs it with apt,
// checks the binary, the man page and the completions, purges it and checks
// that nothing it installed is left.
func TestDebPackage(t *testing.T) {
	requireRoot(t)
	needTools(t, "make", "man", "apt-get", "dpkg")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "bpfnetstat").Output(); err == nil && strings.TrimSpace(string(out)) == "installed" {
		t.Fatal("a bpfnetstat package is already installed; this test installs and purges its own")
	}
	build := filepath.Join(t.TempDir(), "build")
	runIn(t, root, nil, "make", "deb", "BUILDDIR="+build)
	debs, _ := filepath.Glob(filepath.Join(build, "bpfnetstat_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %q", debs)
	}
	apt := []string{"DEBIAN_FRONTEND=noninteractive"}
	runIn(t, build, apt, "apt-get", "install", "-y", "-q", "--no-install-recommends", "./"+filepath.Base(debs[0]))
	purged := false
	defer func() {
		if !purged {
			exec.Command("dpkg", "-P", "bpfnetstat").Run()
		}
	}()
	listing := runIn(t, "/", nil, "dpkg", "-L", "bpfnetstat")
	var owned []string
	for _, p := range strings.Split(strings.TrimSpace(listing), "\n") {
		if st, err := os.Lstat(p); err == nil && !st.IsDir() {
			owned = append(owned, p)
		}
	}
	for _, w := range []string{
		"/usr/bin/bpfnetstat",
		"/usr/share/man/man8/bpfnetstat.8",
		"/usr/share/man/man8/bpfnetstat-trace.8",
		"/usr/share/bash-completion/completions/bpfnetstat",
		"/usr/share/zsh/site-functions/_bpfnetstat",
		"/usr/share/fish/vendor_completions.d/bpfnetstat.fish",
		"/usr/share/doc/bpfnetstat/bpfnetstat.schema.json",
	} {
		if !slices.Contains(owned, w) {
			t.Errorf("the package does not install %s (it has %q)", w, owned)
		}
	}
	if unit := "/usr/lib/systemd/system/bpfnetstat-agent.service"; slices.Contains(owned, unit) {
		if b, _ := os.ReadFile(unit); !strings.Contains(string(b), "\nExecStart=/usr/bin/bpfnetstat agent") {
			t.Errorf("the packaged unit does not run /usr/bin/bpfnetstat:\n%s", b)
		}
	}
	if slices.Contains(owned, "/usr/bin/netstat") {
		t.Error("the package ships /usr/bin/netstat, which is net-tools'")
	}
	out := runIn(t, "/", nil, "/usr/bin/bpfnetstat", "-tan")
	if !strings.HasPrefix(out, "Active Internet connections (servers and established)\n") {
		t.Errorf("bpfnetstat -tan: %q", out)
	}
	if w := strings.TrimSpace(runIn(t, "/", nil, "man", "-w", "bpfnetstat")); w != "/usr/share/man/man8/bpfnetstat.8" {
		t.Errorf("man -w bpfnetstat: %q", w)
	}

	runIn(t, "/", apt, "apt-get", "remove", "--purge", "-y", "-q", "bpfnetstat")
	purged = true
	for _, p := range owned {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after purging the package", p)
		}
	}
	for _, d := range []string{"/usr/share/doc/bpfnetstat"} {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("%s is left after purging the package", d)
		}
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "bpfnetstat").Output(); strings.TrimSpace(string(out)) == "installed" {
		t.Error("dpkg still lists bpfnetstat as installed")
	}
}

// TestGoInstallFromCleanCheckout: go install works from what the module
// proxy serves (the committed tree: no .git, no generate step) on a
// machine without clang or any C compiler.
func TestGoInstallFromCleanCheckout(t *testing.T) {
	needTools(t, "git", "go")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	os.Mkdir(src, 0o755)
	archive := exec.Command("sh", "-c", "git archive --format=tar HEAD | tar -x -C "+src)
	archive.Dir = root
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(src, ".git")); err == nil {
		t.Fatal("the archive has a .git")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(runIn(t, root, nil, goBin, "env", "GOROOT"))
	// PATH holds Go's own bin directory alone: no clang, gcc, cc or git.
	path := filepath.Join(goroot, "bin")
	for _, tool := range []string{"clang", "gcc", "cc", "git"} {
		if _, err := os.Stat(filepath.Join(path, tool)); err == nil {
			t.Fatalf("%s is in %s", tool, path)
		}
	}
	gobin := filepath.Join(tmp, "gobin")
	env := []string{"PATH=" + path, "GOBIN=" + gobin, "GOFLAGS=-mod=mod", "CGO_ENABLED=", "CC=", "GOTOOLCHAIN=local"}
	runIn(t, src, env, filepath.Join(path, "go"), "install", "./cmd/bpfnetstat")
	out := runIn(t, tmp, nil, filepath.Join(gobin, "bpfnetstat"), "version")
	if !strings.HasPrefix(out, "bpfnetstat ") {
		t.Errorf("go-installed bpfnetstat version: %q", out)
	}
}
