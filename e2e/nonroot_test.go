package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// nonRootCases run as uid 65534, where netstat -p can read the descriptors
// of nobody's own processes only.
var nonRootCases = []string{
	"-tlnp",
	"-tlnpe",
	"-tlep",
	"-xlp",
	"-tanp",
	"-p",
	"-xp -n",
	"-tlnpo",
}

// The two warnings netstat -p prints when it cannot read every process.
const (
	notAllWarning = "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)\n"
	noInfoWarning = "(No info could be read for \"-p\": geteuid()=65534 but you should be root.)\n"
)

// TestNonRoot compares -p runs as nobody: with a nobody-owned farm process
// (some sockets identified: the "Not all processes" warning) and without
// (none identified: the "No info could be read" warning).
func TestNonRoot(t *testing.T) {
	requireRoot(t)
	for _, sc := range []struct {
		name    string
		nobody  bool
		warning string
	}{
		{"with_nobody_process", true, notAllWarning},
		{"without_nobody_process", false, noInfoWarning},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := newScenario(t, scenarioOpts{farm: true, nobody: sc.nobody})
			for _, c := range nonRootCases {
				inv := invocation{args: strings.Fields(c), nobody: true}
				t.Run(caseName(inv), func(t *testing.T) {
					s.fresh(t, 0)
					// The scenario must exercise the warning it is
					// about, or it proves nothing.
					if real := s.run(t, realSide, inv); !strings.Contains(real.stderr, sc.warning) {
						if !sc.nobody && hostHasNobodySockets() {
							t.Logf("a process outside the farm runs as nobody and owns sockets, so netstat does not warn %q", sc.warning)
						} else {
							t.Errorf("netstat %s as nobody: stderr %q lacks %q", c, real.stderr, sc.warning)
						}
					}
					compareRuns(t, s, inv)
				})
			}
		})
	}
}

// hostHasNobodySockets reports whether some process running as uid 65534
// holds a socket, which lets netstat -p as nobody identify something.
func hostHasNobodySockets() bool {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		status, err := os.ReadFile(filepath.Join(p, "status"))
		if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t", 65534)) {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			if _, err := strconv.Atoi(fd.Name()); err != nil {
				continue
			}
			if target, _ := os.Readlink(filepath.Join(p, "fd", fd.Name())); strings.HasPrefix(target, "socket:") {
				return true
			}
		}
	}
	return false
}
