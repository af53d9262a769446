package tracer

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDegraded: a role without an attached hook is a degradation named
// with its preferred hook's error; a role with one, or a fallback that
// took over, is not.
func TestDegraded(t *testing.T) {
	var emfile error = unix.EMFILE
	state := HookStatus{Name: "tp_btf/inet_sock_set_state", Role: roleState, Attached: true}
	for _, tc := range []struct {
		name  string
		hooks []HookStatus
		want  string // "" for none
	}{
		{"all attached", []HookStatus{state, {Name: "tracepoint/syscalls/sys_exit_accept4", Role: roleAccept, Attached: true}}, ""},
		{"fallback accept hook", []HookStatus{state,
			{Name: "tracepoint/syscalls/sys_exit_accept4", Role: roleAccept, Err: emfile},
			{Name: "tp_btf/sys_exit", Role: roleAccept, Attached: true}}, ""},
		{"no accept hook", []HookStatus{state,
			{Name: "tracepoint/syscalls/sys_exit_accept4", Role: roleAccept, Err: emfile},
			{Name: "tp_btf/sys_exit", Role: roleAccept, Err: errors.New("no BTF")}},
			`no accept hook attached (tracepoint/syscalls/sys_exit_accept4: too many open files): a connection accepted by another process than the listener's owner (the children of a pre-fork server) is credited to the listener's owner, owner_source "listener"`},
		{"fallback state hook", []HookStatus{
			{Name: "tp_btf/inet_sock_set_state", Role: roleState, Err: emfile},
			{Name: "tracepoint/sock/inet_sock_set_state", Role: roleState, Attached: true},
			{Name: "tracepoint/syscalls/sys_exit_accept4", Role: roleAccept, Attached: true}},
			`state hook without per-socket state (tp_btf/inet_sock_set_state: too many open files): a socket is followed only once its cookie exists (an accept() or SO_COOKIE makes one), and a server connection's owner is at best the listener's (owner_source "listener"), else unknown`},
		{"no state hook at all", []HookStatus{{Name: "tp_btf/inet_sock_set_state", Role: roleState, Err: emfile}}, ""},
	} {
		got := Degraded(tc.hooks)
		switch {
		case tc.want == "" && len(got) != 0:
			t.Errorf("%s: degraded %v, want nothing", tc.name, got)
		case tc.want != "" && (len(got) != 1 || got[0].String() != tc.want || !errors.Is(got[0].Why, emfile) || !strings.Contains(got[0].Fix, "open-file limit")):
			t.Errorf("%s: degraded %v, want one: %s", tc.name, got, tc.want)
		}
	}
}

// TestSkipAccept: with Config.SkipAccept the state hooks attach and no
// accept hook does; Degraded says so.
func TestSkipAccept(t *testing.T) {
	requireBPF(t)
	tr, err := Open(Config{SkipAccept: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer tr.Close()
	state, accept := 0, 0
	for _, h := range tr.Hooks {
		switch {
		case h.Role == roleState && h.Attached:
			state++
		case h.Role == roleAccept && h.Attached:
			accept++
		case h.Role == roleAccept && !errors.Is(h.Err, ErrSkipped):
			t.Errorf("accept hook %s: error %v, want ErrSkipped", h.Name, h.Err)
		}
	}
	if state == 0 || accept != 0 {
		t.Errorf("%d state and %d accept hooks attached, want some and none: %+v", state, accept, tr.Hooks)
	}
	d := Degraded(tr.Hooks)
	if len(d) != 1 || d[0].Role != RoleAccept || !strings.Contains(d[0].String(), "configuration skips") {
		t.Errorf("Degraded: %v", d)
	}
}
