package e2e

import (
	"strings"
	"testing"
	"time"
)

// continuousCases run under `timeout --preserve-status -s INT 4.5`: netstat
// dies of SIGINT (status 130 reported by timeout) after three iterations,
// unless an iteration fails first.
var continuousCases = []string{
	"-ce",
	"-xlc",
	"-tanpc",
	"-tanoc",
	"-uanc",
	"-Sc",
	"-c --ipx",
}

// TestContinuous compares -c runs: the first two complete iterations, stderr
// and the exit status.
func TestContinuous(t *testing.T) {
	requireRoot(t)
	s := newScenario(t, scenarioOpts{farm: true})
	// The cases run in parallel (each takes 4.5 s); make sure the farm
	// outlives them all.
	s.fresh(t, 20*time.Second)
	for _, c := range continuousCases {
		inv := invocation{args: strings.Fields(c)}
		t.Run(caseName(inv), func(t *testing.T) {
			t.Parallel()
			compareContinuous(t, s, inv)
		})
	}
}
