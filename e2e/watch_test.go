package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wtTimeWaits makes n connections inside the namespace from a child
// process (this test binary, re-executed), each closed first by the
// client, so that n client sockets sit in TIME_WAIT owned by that child.
// It returns the child's PID.
func wtTimeWaits(t *testing.T, ns string, port, n int) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestWtHelperProcess$")
	cmd.Env = append(os.Environ(), "BPFNETSTAT_WT_HELPER="+strconv.Itoa(port)+","+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("making TIME_WAIT connections: %v\n%s", err, out)
	}
	return cmd.Process.Pid
}

// TestWtHelperProcess is the child of wtTimeWaits; it does nothing in a
// normal test run.
func TestWtHelperProcess(t *testing.T) {
	spec := os.Getenv("BPFNETSTAT_WT_HELPER")
	if spec == "" {
		return
	}
	var port, n int
	fmt.Sscanf(spec, "%d,%d", &port, &n)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i := 0; i < n; i++ {
		c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		s.Read(buf)
		c.Close() // the client closes first: TIME_WAIT on its side
		s.Read(buf)
		s.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// modesProbe follows watch in a terminal test's shell: it prints
// WATCH-EXITED, then "icanon echo" if watch left the terminal with those
// modes on, then modesDone. A test waits for modesDone, not WATCH-EXITED:
// a screen captured between the lines has no modes on it.
const modesProbe = "echo WATCH-EXITED; stty -a | tr ' ;' '\\n\\n' | grep -xE 'icanon|echo' | tr '\\n' ' '; echo " + modesDone + "; sleep 60"

const modesDone = "STTY-DONE"

func tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", args...).CombinedOutput()
	return string(out), err
}

// TestWatchInTerminal drives bpfnetstat watch in a real terminal (tmux):
// the live table shows TIME_WAIT rows with this process as owner, keys
// change the order, q quits and the terminal is restored.
func TestWatchInTerminal(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux missing: scripts/install-test-deps.sh installs it")
	}
	b := getBinaries(t)
	n := newNetns(t)
	defer n.close()
	session := "bpfnetstat-watch-" + strconv.Itoa(os.Getpid())
	script := fmt.Sprintf("ip netns exec %s %s watch --interval 300ms; %s", n.name, b.ours, modesProbe)
	if out, err := tmux("new-session", "-d", "-s", session, "-x", "220", "-y", "50", script); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	defer tmux("kill-session", "-t", session)
	capture := func() string {
		out, _ := tmux("capture-pane", "-p", "-t", session)
		return out
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			screen := capture()
			if ok(screen) {
				return screen
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; screen:\n%s", what, screen)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("the watch header", func(s string) bool { return strings.Contains(s, "bpfnetstat watch") })

	owner := fmt.Sprintf("%d/", wtTimeWaits(t, n.name, 9092, 8))
	screen := waitFor("TIME_WAIT rows owned by this process", func(s string) bool {
		rows := 0
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, "TIME_WAIT") && strings.Contains(line, ":9092") && strings.Contains(line, owner) && strings.HasSuffix(strings.TrimSpace(line), "connect") {
				rows++
			}
		}
		return rows == 8 && strings.Contains(s, "TIME_WAIT 8 (top: "+owner)
	})
	if !strings.Contains(screen, "keys: s o a b c sort") || !strings.Contains(screen, "sort: state") {
		t.Errorf("header lacks keys or sort order:\n%s", screen)
	}
	tmux("send-keys", "-t", session, "o")
	waitFor("sort: owner", func(s string) bool { return strings.Contains(s, "sort: owner") })
	tmux("send-keys", "-t", session, "q")
	screen = waitFor("watch to quit", func(s string) bool { return strings.Contains(s, modesDone) })
	if strings.Contains(screen, "bpfnetstat watch") {
		t.Errorf("the table is still on screen after q: the alternate screen was not left:\n%s", screen)
	}
	if !strings.Contains(screen, "icanon echo") {
		t.Errorf("terminal modes not restored (want icanon and echo):\n%s", screen)
	}
}

// TestWatchPipedAndJSON: piped, watch prints plain snapshots; --json
// streams one JSON object per refresh.
func TestWatchPipedAndJSON(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	n := newNetns(t)
	defer n.close()
	// Plain: started first so the tracer sees the connections.
	plain := exec.Command("ip", "netns", "exec", n.name, b.ours, "watch", "--count", "3", "--interval", "700ms")
	js := exec.Command("ip", "netns", "exec", n.name, b.ours, "watch", "--json", "--count", "3", "--interval", "700ms")
	var plainOut, jsOut strings.Builder
	plain.Stdout, js.Stdout = &plainOut, &jsOut
	if err := plain.Start(); err != nil {
		t.Fatal(err)
	}
	if err := js.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // both have taken their first snapshot
	pid := wtTimeWaits(t, n.name, 9093, 5)
	if err := plain.Wait(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if err := js.Wait(); err != nil {
		t.Fatalf("watch --json: %v", err)
	}
	out := plainOut.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences in piped output:\n%q", out)
	}
	if got := strings.Count(out, "bpfnetstat watch "); got != 3 {
		t.Errorf("%d snapshots, want 3:\n%s", got, out)
	}
	lines := strings.Split(strings.TrimSpace(jsOut.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines, want 3:\n%s", len(lines), jsOut.String())
	}
	var last struct {
		TimeWait int `json:"time_wait"`
		Top      []struct {
			PID   int `json:"pid"`
			Count int `json:"count"`
		} `json:"top_time_wait_owners"`
		Conns []struct {
			State       string `json:"state"`
			PID         int    `json:"pid"`
			OwnerSource string `json:"owner_source"`
			RPort       int    `json:"rport"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatalf("JSON line: %v\n%s", err, lines[2])
	}
	tw := 0
	for _, c := range last.Conns {
		if c.State == "TIME_WAIT" && c.RPort == 9093 {
			tw++
			if c.PID != pid || c.OwnerSource != "connect" {
				t.Errorf("TIME_WAIT row owned by %d (%s), want %d (connect)", c.PID, c.OwnerSource, pid)
			}
		}
	}
	if tw != 5 || last.TimeWait != 5 || len(last.Top) == 0 || last.Top[0].PID != pid || last.Top[0].Count != 5 {
		t.Errorf("last snapshot: %d TIME_WAIT rows, time_wait %d, top %+v; want 5 owned by %d", tw, last.TimeWait, last.Top, pid)
	}
}

// TestTimewaitSummary: the TIME_WAIT pressure summary counts per owner and
// per remote endpoint, and the ephemeral ports in use.
func TestTimewaitSummary(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	n := newNetns(t)
	defer n.close()
	cmd := exec.Command("ip", "netns", "exec", n.name, b.ours, "timewait", "--json", "--interval", "1500ms")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	pid := wtTimeWaits(t, n.name, 9094, 6)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("timewait: %v", err)
	}
	var sum struct {
		TimeWait int `json:"time_wait"`
		ByOwner  []struct {
			PID   int `json:"pid"`
			Count int `json:"count"`
		} `json:"by_owner"`
		ByRemote []struct {
			Key   string `json:"key"`
			Count int    `json:"count"`
		} `json:"by_remote"`
		Pressure []struct {
			Remote   string `json:"remote"`
			TimeWait int    `json:"time_wait"`
			InUse    int    `json:"in_use"`
		} `json:"port_pressure"`
	}
	if err := json.Unmarshal([]byte(out.String()), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if sum.TimeWait != 6 || len(sum.ByOwner) != 1 || sum.ByOwner[0].PID != pid || sum.ByOwner[0].Count != 6 {
		t.Errorf("by owner: %+v (time_wait %d), want 6 owned by %d", sum.ByOwner, sum.TimeWait, pid)
	}
	if len(sum.ByRemote) != 1 || sum.ByRemote[0].Key != "127.0.0.1:9094" || sum.ByRemote[0].Count != 6 {
		t.Errorf("by remote: %+v", sum.ByRemote)
	}
	if len(sum.Pressure) != 1 || sum.Pressure[0].Remote != "127.0.0.1:9094" || sum.Pressure[0].TimeWait != 6 || sum.Pressure[0].InUse != 6 {
		t.Errorf("port pressure: %+v", sum.Pressure)
	}
}
