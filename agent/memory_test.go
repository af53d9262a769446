package agent

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestOwnerSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "agent.sock")
	tw := testConn(7)
	tw.ViaTimeWait = true
	lookup := func(q []OwnerQuery) []OwnerAnswer {
		out := make([]OwnerAnswer, len(q))
		for i, x := range q {
			if x.Cookie == tw.Cookie || x.Local == tw.Local && x.Remote == tw.Remote {
				out[i] = answerOf(&tw)
			}
		}
		return out
	}
	if _, err := Lookup(path, []OwnerQuery{{Cookie: 1}}); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("without an agent: %v, want ErrNoAgent", err)
	}
	l, err := ServeOwners(path, lookup)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600 | os.ModeSocket} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
		}
	}
	if _, err := ServeOwners(path, lookup); err == nil {
		t.Error("a second agent on the same socket was allowed")
	}
	ans, err := Lookup(path, []OwnerQuery{{Cookie: tw.Cookie}, {Cookie: 99}, {Local: tw.Local, Remote: tw.Remote},
		{Local: netip.MustParseAddrPort("1.1.1.1:1"), Remote: netip.MustParseAddrPort("2.2.2.2:2")}})
	if os.Geteuid() != 0 {
		if err == nil {
			t.Fatal("a non-root peer got answers")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(ans) != 4 || !ans[0].Found || ans[1].Found || !ans[2].Found || ans[3].Found {
		t.Fatalf("answers %+v", ans)
	}
	if a := ans[2]; a.PID != tw.Owner.PID || a.Comm != "curl" || a.UID != 33 || !a.ViaTimeWait || a.Cookie != tw.Cookie || a.OwnerSource != "connect" {
		t.Errorf("answer %+v does not describe %+v", a, tw)
	}
}
