package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgentMemoryInViews closes connections into TIME_WAIT while an agent
// runs and only then starts `bpfnetstat timewait`: its own tracer never saw
// them close, so without the agent every TIME_WAIT socket is "-"; with the
// agent's socket, each names the process that owned it (this test).
func TestAgentMemoryInViews(t *testing.T) {
	trRequireRoot(t)
	bins := trBuild(t)
	ns := trNewNetns(t)
	dir := t.TempDir()
	a := agStart(t, bins.ours, ns, dir)
	const n = 5
	agConnect(t, ns, 7311, n)
	time.Sleep(500 * time.Millisecond) // the agent reads its ring buffer
	socket := filepath.Join(dir, "run", "agent.sock")

	owners := func(withAgent bool) map[string]int {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", ns.name, bins.ours, "timewait", "--json", "--count", "1")
		cmd.Env = os.Environ()
		if withAgent {
			cmd.Env = append(cmd.Env, "BPFNETSTAT_AGENT_SOCKET="+socket)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("timewait (agent %v): %v\n%s", withAgent, err, out)
		}
		var sum struct {
			TimeWait int `json:"time_wait"`
			ByOwner  []struct {
				Key   string `json:"key"`
				Count int    `json:"count"`
			} `json:"by_owner"`
		}
		line := strings.TrimSpace(strings.Split(strings.TrimSpace(string(out)), "\n")[0])
		if err := json.Unmarshal([]byte(line), &sum); err != nil {
			t.Fatalf("timewait --json: %v: %s", err, out)
		}
		if sum.TimeWait < n {
			t.Fatalf("timewait: %d TIME_WAIT sockets, want at least %d: %s", sum.TimeWait, n, out)
		}
		got := map[string]int{}
		for _, o := range sum.ByOwner {
			got[o.Key] = o.Count
		}
		return got
	}
	without := owners(false)
	if without["-"] < n {
		t.Errorf("without the agent: by_owner %v, want %d sockets of unknown owner", without, n)
	}
	with := owners(true)
	want := strconv.Itoa(os.Getpid()) + "/"
	named := 0
	for k, c := range with {
		if strings.HasPrefix(k, want) {
			named += c
		}
	}
	if named != n || with["-"] != 0 {
		t.Errorf("with the agent: by_owner %v, want %d sockets owned by %s...", with, n, want)
	}
	a.stop(t)
}
