package tracer

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

// TestTCPStatesMatchBPF reads the TCP state enum the BPF programs compare
// against (bpf/core.h) and checks that conn.State numbers it the same way:
// the programs record kernel state numbers, which user space names with
// conn.State.
func TestTCPStatesMatchBPF(t *testing.T) {
	src, err := os.ReadFile("../bpf/core.h")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]conn.State{
		"TCP_ESTABLISHED": conn.TCPEstablished, "TCP_SYN_SENT": conn.TCPSynSent, "TCP_SYN_RECV": conn.TCPSynRecv,
		"TCP_FIN_WAIT1": conn.TCPFinWait1, "TCP_FIN_WAIT2": conn.TCPFinWait2, "TCP_TIME_WAIT": conn.TCPTimeWait,
		"TCP_CLOSE": conn.TCPClose, "TCP_CLOSE_WAIT": conn.TCPCloseWait, "TCP_LAST_ACK": conn.TCPLastAck,
		"TCP_LISTEN": conn.TCPListen, "TCP_CLOSING": conn.TCPClosing,
	}
	body := regexp.MustCompile(`(?s)enum\s*(?:\w+\s*)?\{([^}]*TCP_ESTABLISHED[^}]*)\}`).FindSubmatch(src)
	if body == nil {
		t.Fatal("bpf/core.h: no enum with TCP_ESTABLISHED")
	}
	next := 0
	seen := 0
	for _, item := range strings.Split(string(body[1]), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, hasVal := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if hasVal {
			n := 0
			for _, c := range strings.TrimSpace(val) {
				if c < '0' || c > '9' {
					t.Fatalf("bpf/core.h: %s = %q: not a decimal number", name, val)
				}
				n = n*10 + int(c-'0')
			}
			next = n
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("bpf/core.h: %s has no conn.State", name)
		} else if conn.State(next) != w {
			t.Errorf("bpf/core.h: %s = %d, conn.State says %d (%v)", name, next, w, w)
		}
		seen++
		next++
	}
	if seen != len(want) {
		t.Errorf("bpf/core.h declares %d TCP states, conn.State %d", seen, len(want))
	}
}
