package output

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// TestClassicIdentity: -p rows carry the owner's identity in JSON only when
// the renderer is given an Identity source, and in text only with
// IdentityColumns; rows without an owner get empty strings.
func TestClassicIdentity(t *testing.T) {
	cid := strings.Repeat("ab", 32)
	owned := snapshot.Socket{Proto: snapshot.ProtoTCP, Family: snapshot.FamilyInet, State: 10, Inode: 7,
		Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}
	orphan := owned
	orphan.Inode = 8
	owners := fakeOwners{7: {PID: 42, Name: "nginx"}}
	lookups := 0
	ident := func(pid int) cgroups.Identity {
		lookups++
		if pid != 42 {
			t.Errorf("identity asked for pid %d", pid)
		}
		return cgroups.Identity{Path: "/system.slice/docker-" + cid + ".scope", ContainerID: cid}
	}
	plain := NewClassic(ClassicOptions{Programs: true, Listening: true}, fakeNames{}, owners)
	b, _ := json.Marshal(plain.socketJSON(&owned))
	if strings.Contains(string(b), "cgroup") || lookups != 0 {
		t.Errorf("without an identity source: %s (%d lookups)", b, lookups)
	}
	rowPlain := string(plain.InetRow(&owned))

	c := NewClassic(ClassicOptions{Programs: true, Listening: true, Identity: ident}, fakeNames{}, owners)
	b, _ = json.Marshal(c.socketJSON(&owned))
	if want := `"cgroup":"/system.slice/docker-` + cid + `.scope","container_id":"` + cid + `","pod_uid":"","unit":""`; !strings.Contains(string(b), want) {
		t.Errorf("owned row: %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(c.socketJSON(&orphan))
	if !strings.Contains(string(b), `"cgroup":"","container_id":"","pod_uid":"","unit":""`) {
		t.Errorf("row without an owner: %s", b)
	}
	if got := string(c.InetRow(&owned)); got != rowPlain {
		t.Errorf("text changed without IdentityColumns:\n%q\n%q", got, rowPlain)
	}

	opt := c.Options()
	opt.IdentityColumns = true
	c.SetOptions(opt)
	row := string(c.InetRow(&owned))
	if !strings.HasPrefix(row, strings.TrimSuffix(rowPlain, "\n")+" "+cid[:12]+" ") || row != strings.TrimSuffix(rowPlain, "\n")+" "+IdentityText(ident(42))+"\n" ||
		!strings.HasSuffix(row, " /system.slice/docker-"+cid+".scope\n") {
		t.Errorf("text with identity: %q", row)
	}
	if h := string(c.InetHeader()); !strings.HasSuffix(h, " "+IdentityHeader+"\n") {
		t.Errorf("header: %q", h)
	}
}

// TestEventWriterIdentity: trace and life text end with the identity
// columns only with --identity; an unknown owner's are dashes.
func TestEventWriterIdentity(t *testing.T) {
	c := closed()
	var plain, with strings.Builder
	(&EventWriter{W: &plain}).Life(&c)
	w := &EventWriter{W: &with, Identity: true}
	w.LifeHeader()
	w.Life(&c)
	c.Owner.Ident = &cgroups.Identity{Path: "/kubepods/pod3f2504e0-4f89-11d3-9a0c-0305e82c3301/" + strings.Repeat("cd", 32),
		ContainerID: strings.Repeat("cd", 32), PodUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
	w.Trace(&conn.Transition{Conn: c, OldState: conn.TCPSynSent, NewState: conn.TCPClose, TimeNs: c.CloseNs})
	lines := strings.Split(with.String(), "\n")
	if !strings.HasSuffix(lines[0], " "+IdentityHeader) {
		t.Errorf("header: %q", lines[0])
	}
	if lines[1] != strings.TrimSuffix(plain.String(), "\n")+" "+IdentityText(cgroups.Identity{}) || !strings.HasSuffix(lines[1], " - ") && !strings.HasSuffix(lines[1], " -") {
		t.Errorf("unknown owner: %q", lines[1])
	}
	if !strings.HasSuffix(lines[2], " cdcdcdcdcdcd 3f2504e0-4f89-11d3-9a0c-0305e82c3301 -                        "+c.Owner.Ident.Path) {
		t.Errorf("trace line: %q", lines[2])
	}
}
