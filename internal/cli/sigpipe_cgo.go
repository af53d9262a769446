//go:build cgo

package cli

/*
#include <signal.h>

// The Go runtime installs its own SIGPIPE handler before main runs, and
// forgets whether the signal was ignored: this constructor runs first and
// keeps the answer.
static int bpfnetstat_sigpipe_ignored;

__attribute__((constructor)) static void bpfnetstat_probe_sigpipe(void) {
	struct sigaction sa;
	if (sigaction(SIGPIPE, 0, &sa) == 0 && sa.sa_handler == SIG_IGN)
		bpfnetstat_sigpipe_ignored = 1;
}

static int bpfnetstat_sigpipe_was_ignored(void) { return bpfnetstat_sigpipe_ignored; }
*/
import "C"

// sigpipeIgnoredAtStart reports whether bpfnetstat was started with
// SIGPIPE ignored (systemd's default for services, `trap ” PIPE`).
func sigpipeIgnoredAtStart() bool { return C.bpfnetstat_sigpipe_was_ignored() != 0 }
