package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TestOwnerScansAgree checks that the two ways -p learns socket owners give
// the same map for every socket on the machine: netstat's walk of
// /proc/*/fd and the task_file iterator bpfnetstat uses as root. The farm
// adds processes of several users, a listener shared by three processes
// (the first in /proc order must win in both) and some 200 sockets.
func TestOwnerScansAgree(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{farm: true, nobody: true})
	s.fresh(t, 5*time.Second)
	farmPID := s.farm.cmd.Process.Pid
	fs := snapshot.NewFS("")
	const attempts = 3
	for attempt := 1; ; attempt++ {
		before := ownerMap(owners.WalkProc(fs))
		o, err := owners.Iterate(fs)
		if err != nil {
			t.Fatalf("task_file iterator as root: %v", err)
		}
		iter := ownerMap(o)
		after := ownerMap(owners.WalkProc(fs))
		if maps.Equal(iter, before) || maps.Equal(iter, after) {
			checkFarmOwners(t, iter, farmPID)
			t.Logf("%d socket inodes agree", len(iter))
			return
		}
		if maps.Equal(before, after) || attempt == attempts {
			t.Fatalf("the iterator's owners differ from the /proc walk's (attempt %d):\n%s", attempt, ownerDiff(before, iter))
		}
		t.Logf("attempt %d: sockets changed during the scans, retrying", attempt)
	}
}

func ownerMap(o *owners.Map) map[uint64]snapshot.Owner {
	m := make(map[uint64]snapshot.Owner, o.Len())
	o.Each(func(ino uint64, ow snapshot.Owner) { m[ino] = ow })
	return m
}

// checkFarmOwners makes sure the comparison covered the farm: its main
// process and at least three of its children own sockets.
func checkFarmOwners(t *testing.T, m map[uint64]snapshot.Owner, farmPID int) {
	t.Helper()
	pids := map[int]int{}
	for _, ow := range m {
		pids[ow.PID]++
	}
	if pids[farmPID] < 10 {
		t.Errorf("the farm (pid %d) owns %d sockets in the map, want at least 10", farmPID, pids[farmPID])
	}
	children := 0
	for pid := range pids {
		if parentPID(pid) == farmPID {
			children++
		}
	}
	if children < 3 {
		t.Errorf("%d of the farm's children own sockets in the map, want at least 3", children)
	}
}

func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	var state string
	var ppid int
	fmt.Sscan(rest, &state, &ppid)
	return ppid
}

func ownerDiff(walk, iter map[uint64]snapshot.Owner) string {
	var lines []string
	for ino, w := range walk {
		if i, ok := iter[ino]; !ok || i != w {
			lines = append(lines, fmt.Sprintf("inode %d: /proc walk %d/%q, iterator %v", ino, w.PID, w.Name, describeOwner(i, ok)))
		}
	}
	for ino, i := range iter {
		if _, ok := walk[ino]; !ok {
			lines = append(lines, fmt.Sprintf("inode %d: /proc walk none, iterator %d/%q", ino, i.PID, i.Name))
		}
	}
	slices.Sort(lines)
	if len(lines) > 40 {
		lines = append(lines[:40], fmt.Sprintf("... and %d more", len(lines)-40))
	}
	return strings.Join(lines, "\n")
}

func describeOwner(o snapshot.Owner, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprintf("%d/%q", o.PID, o.Name)
}

// TestOwnerScansInPIDNamespace: inside a PID namespace with its own /proc
// (a container), the iterator must report the namespace's PIDs, leave out
// processes the namespace cannot see, and give a shared socket to the
// lowest PID there, like the /proc walk: bpfnetstat -anp prints the same
// bytes either way, with the farm's processes as owners.
func TestOwnerScansInPIDNamespace(t *testing.T) {
	requireRoot(t)
	b := getBinaries(t)
	// The farm binds addresses that the scenario's namespace has.
	s := newScenario(t, scenarioOpts{})
	enter := trNewPIDNamespace(t, &trNetns{name: s.ns.name})
	dir := t.TempDir()
	farm := exec.Command(enter[0], append(enter[1:len(enter):len(enter)], b.farm, "-dir", dir)...)
	stdin, err := farm.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := farm.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var farmErr bytes.Buffer
	farm.Stderr = &farmErr
	if err := farm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		farm.Process.Kill()
		farm.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("farm in the PID namespace: %q, %v\n%s", line, err, farmErr.String())
	}
	run := func(owners string) string {
		cmd := exec.Command(enter[0], append(enter[1:len(enter):len(enter)], b.ours, "-anp")...)
		cmd.Env = append(os.Environ(), "BPFNETSTAT_OWNERS="+owners)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bpfnetstat -anp (owners from %s): %v", owners, err)
		}
		return string(out)
	}
	for attempt := 1; ; attempt++ {
		walk, iter := run("proc"), run("iter")
		if walk == iter {
			owned := regexp.MustCompile(`(?m) ([1-9]\d{0,2})/farm +`).FindAllStringSubmatch(iter, -1)
			if len(owned) < 10 {
				t.Fatalf("only %d rows owned by the farm with a namespace PID:\n%s", len(owned), iter)
			}
			t.Logf("%d rows owned by the farm, PIDs as the namespace numbers them (e.g. %s)", len(owned), owned[0][1])
			return
		}
		if attempt == 3 {
			t.Fatalf("bpfnetstat -anp inside a PID namespace: owners from the iterator differ from the /proc walk's (-walk +iterator):\n%s", diffLines(walk, iter))
		}
	}
}
