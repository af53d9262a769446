package e2e

// TestHostileNamesEveryOutput runs every view and every --json output of
// bpfnetstat against one process whose task name (comm) and argv[0]
// carry control bytes, DEL, C1 characters and bytes that are not UTF-8
// (argv[0] 250 bytes long), holding TCP connections in every phase: one
// established, several in TIME_WAIT from before any tracer started, and
// more opened and closed while the tracers watch; and a UNIX socket whose
// path is just as hostile. No output may carry a raw control byte, a C1
// character or invalid UTF-8, and no JSON string may decode to one.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

const hnEnv = "BPFNETSTAT_HN_HELPER"

// hnComm is the task name (at most 15 bytes): ESC, BEL, DEL, a C1 CSI
// as UTF-8 and a byte that is not UTF-8.
const hnComm = "\x1b]0;\x07\x7f\xc2\x9b\xffcomm"

// hnArgv0 is argv[0], 250 bytes: newline, ESC, DEL, raw C1 bytes, a C1
// character in UTF-8, invalid UTF-8 and tab.
var hnArgv0 = func() string {
	s := "evil\nname\x1b[2J\x7f\x85\x9b\xc2\x85\xff\xfe\ttab"
	return s + strings.Repeat("x", 250-len(s))
}()

// TestHnHelperProcess is the hostile-named process; it does nothing in a
// normal test run. It re-executes itself with the hostile argv[0], names
// its task, then: a listener on the port, a UNIX listener, 4 connections
// left in TIME_WAIT, one held open; "ready" on stdout. At each line on
// stdin it opens and closes 3 more connections and answers "done"; at
// EOF it exits.
func TestHnHelperProcess(t *testing.T) {
	spec := os.Getenv(hnEnv)
	if spec == "" {
		return
	}
	if os.Args[0] != hnArgv0 {
		err := syscall.Exec("/proc/self/exe", append([]string{hnArgv0}, os.Args[1:]...), os.Environ())
		fmt.Println("exec:", err)
		os.Exit(1)
	}
	// comm is per thread, and Go connects from any of them: every thread
	// gets the name (threads made later inherit it from their creator).
	tasks, _ := filepath.Glob("/proc/self/task/*/comm")
	for _, c := range tasks {
		if err := os.WriteFile(c, []byte(hnComm), 0); err != nil {
			fmt.Println("naming the task:", err)
			os.Exit(1)
		}
	}
	parts := strings.SplitN(spec, ",", 2)
	port, _ := strconv.Atoi(parts[0])
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ul, err := net.Listen("unix", parts[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer ul.Close()
	var held []net.Conn
	round := func(n int, keep bool) {
		for i := 0; i < n; i++ {
			c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			s, err := ln.Accept()
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			s.Read(buf)
			if keep {
				held = append(held, c, s)
				continue
			}
			c.Close() // the client closes first: TIME_WAIT on its side
			s.Read(buf)
			s.Close()
		}
	}
	round(4, false)
	round(1, true)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		round(3, false)
		fmt.Println("done")
	}
	os.Exit(0)
}

// hnHelper is the running hostile-named process.
type hnHelper struct {
	cmd   *exec.Cmd
	stdin interface{ Write([]byte) (int, error) }
	out   *bufio.Scanner
}

func hnStart(t *testing.T, ns string, port int, unixPath string) *hnHelper {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHnHelperProcess$")
	cmd.Env = append(os.Environ(), hnEnv+"="+strconv.Itoa(port)+","+unixPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hnHelper{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	h.expect(t, "ready")
	return h
}

func (h *hnHelper) expect(t *testing.T, want string) {
	t.Helper()
	if !h.out.Scan() || h.out.Text() != want {
		t.Fatalf("hostile-named helper: got %q, want %q", h.out.Text(), want)
	}
}

// hnProc is a long-running bpfnetstat whose output is checked at the end.
type hnProc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func TestHostileNamesEveryOutput(t *testing.T) {
	requireRoot(t)
	trRequireRoot(t)
	b := getBinaries(t)
	n := newNetns(t)
	defer n.close()
	const port = 9097
	unixPath := filepath.Join(workRoot, "hn\n\x1b[1m\x7f\xc2\x85\xff.sock")
	h := hnStart(t, n.name, port, unixPath)
	pid := h.cmd.Process.Pid // ip execs the test binary, which execs itself: one PID

	ours := func(args ...string) *exec.Cmd {
		return exec.Command("ip", append([]string{"netns", "exec", n.name, b.ours}, args...)...)
	}
	var long []*hnProc
	start := func(args ...string) {
		p := &hnProc{name: "bpfnetstat " + strings.Join(args, " "), cmd: ours(args...)}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		long = append(long, p)
	}
	for _, args := range [][]string{
		{"trace"}, {"trace", "--json"}, {"life"}, {"life", "--json"},
		{"watch", "--count", "4", "--interval", "700ms"},
		{"watch", "--json", "--count", "4", "--interval", "700ms"},
		{"timewait", "--interval", "2s"}, {"timewait", "--json", "--interval", "2s"},
		{"-tanpc", "--recent"}, {"-tanpc", "--recent", "--json"}, {"-tanpec"},
	} {
		start(args...)
	}
	// The tracers say when they are attached; then the helper opens and
	// closes connections under their eyes.
	time.Sleep(1500 * time.Millisecond)
	fmt.Fprintln(h.stdin, "go")
	h.expect(t, "done")

	var outputs []*hnProc
	for _, args := range [][]string{
		{"-tanp"}, {"-tanpe"}, {"-xanp"}, {"-anp"}, {"-tanpeW"},
		{"-tanp", "--json"}, {"-tanpe", "--json"}, {"-xanp", "--json"}, {"-anp", "--json"},
	} {
		p := &hnProc{name: "bpfnetstat " + strings.Join(args, " "), cmd: ours(args...)}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Run(); err != nil {
			t.Errorf("%s: %v\n%s", p.name, err, p.stderr.String())
		}
		outputs = append(outputs, p)
	}
	// The drop-in escapes the same way.
	dropIn := &hnProc{name: "netstat -tanp (drop-in)", cmd: exec.Command("ip", "netns", "exec", n.name, filepath.Join(b.oursDir, "netstat"), "-anp")}
	dropIn.cmd.Stdout, dropIn.cmd.Stderr = &dropIn.stdout, &dropIn.stderr
	if err := dropIn.cmd.Run(); err != nil {
		t.Errorf("%s: %v", dropIn.name, err)
	}
	outputs = append(outputs, dropIn)

	time.Sleep(2500 * time.Millisecond) // timewait's report, watch's last refresh, a -c round
	for _, p := range long {
		p.cmd.Process.Signal(os.Interrupt)
	}
	for _, p := range long {
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && !strings.Contains(err.Error(), "interrupt") {
				t.Errorf("%s: %v\n%s", p.name, err, p.stderr.String())
			}
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGINT", p.name)
		}
		outputs = append(outputs, p)
	}

	pidRE := regexp.MustCompile(`(^|[^0-9])` + strconv.Itoa(pid) + `([^0-9]|$)`)
	for _, p := range outputs {
		out := p.stdout.String()
		if out == "" {
			t.Errorf("%s printed nothing; stderr:\n%s", p.name, p.stderr.String())
			continue
		}
		if bad := hnRawControl(out); bad != "" {
			t.Errorf("%s: %s in stdout:\n%q", p.name, bad, out)
		}
		if strings.Contains(p.name, "--json") {
			hnCheckJSON(t, p.name, out)
		}
		// The hostile owner must be in every output, or the check above
		// proves nothing.
		if !pidRE.MatchString(out) || !strings.Contains(out, `x1b`) {
			t.Errorf("%s does not show the hostile-named process %d with its name escaped:\n%s", p.name, pid, out)
		}
	}
}

// hnRawControl describes the first byte of s that must not reach a
// terminal: a C0 control other than newline and tab, DEL, a C1 control
// (raw or as UTF-8) or a byte that is not UTF-8; "" when there is none.
func hnRawControl(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Sprintf("byte %#02x (not UTF-8) at %d", s[i], i)
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			return fmt.Sprintf("control byte %#02x at %d", r, i)
		case r >= 0x80 && r <= 0x9f:
			return fmt.Sprintf("C1 control U+%04X at %d", r, i)
		}
		i += size
	}
	return ""
}

// hnCheckJSON decodes each JSON document of out (an array, or one object
// per line) and checks that no string decodes to a control character:
// \u001b is as raw as ESC once a consumer prints the value.
func hnCheckJSON(t *testing.T, name, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	docs := 0
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("%s: not JSON: %v", name, err)
			}
			break
		}
		docs++
		hnWalk(t, name, v)
	}
	if docs == 0 {
		t.Errorf("%s: no JSON document", name)
	}
}

func hnWalk(t *testing.T, name string, v any) {
	switch x := v.(type) {
	case string:
		if bad := hnRawControl(x); bad != "" {
			t.Errorf("%s: JSON string %q decodes to %s", name, x, bad)
		}
	case []any:
		for _, e := range x {
			hnWalk(t, name, e)
		}
	case map[string]any:
		for k, e := range x {
			hnWalk(t, name, k)
			hnWalk(t, name, e)
		}
	}
}
