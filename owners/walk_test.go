package owners

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// fakeProc builds a proc root: for each pid its cmdline (absent when
// nil: the process is gone) and its fd links.
func fakeProc(t testing.TB, procs map[int]fakeProcess) snapshot.FS {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if p.cmdline != nil {
			if err := os.WriteFile(filepath.Join(dir, "cmdline"), p.cmdline, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for fd, target := range p.fds {
			if err := os.Symlink(target, filepath.Join(dir, "fd", fd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	return snapshot.NewFS(root)
}

type fakeProcess = struct {
	cmdline []byte
	fds     map[string]string
}

func TestWalkProc(t *testing.T) {
	fs := fakeProc(t, map[int]fakeProcess{
		10: {[]byte("/usr/sbin/sshd\x00-D\x00"), map[string]string{"0": "/dev/null", "3": "socket:[1001]", "4": "pipe:[7]", "5": "[0000]:1002"}},
		20: {[]byte("./rel prog\x00"), map[string]string{"3": "socket:[2001]", "4": "socket:[0x7d2]", "5": "socket:[bad]"}},
		30: {nil, map[string]string{"3": "socket:[3001]"}}, // gone: no cmdline
		40: {[]byte("quiet\x00"), map[string]string{"0": "/dev/null"}},
	})
	o := WalkProc(fs)
	if o.ProcErr != nil || o.Denied {
		t.Fatalf("ProcErr %v, Denied %v", o.ProcErr, o.Denied)
	}
	want := map[uint64]snapshot.Owner{1001: {PID: 10, Name: "sshd"}, 1002: {PID: 10, Name: "sshd"}, 2001: {PID: 20, Name: "./rel prog"}, 2002: {PID: 20, Name: "./rel prog"}}
	got := map[uint64]snapshot.Owner{}
	o.Each(func(ino uint64, ow snapshot.Owner) { got[ino] = ow })
	if len(got) != len(want) || o.Len() != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for ino, w := range want {
		if got[ino] != w {
			t.Errorf("inode %d: got %+v, want %+v", ino, got[ino], w)
		}
		if l, ok := o.Lookup(ino); !ok || l != w {
			t.Errorf("Lookup(%d) = %+v, %v", ino, l, ok)
		}
	}
	if _, ok := o.Lookup(3001); ok {
		t.Error("a process without a cmdline (gone) owns a socket")
	}
}

func TestFromScan(t *testing.T) {
	fs := fakeProc(t, map[int]fakeProcess{
		10: {[]byte("/usr/bin/server\x00"), nil},
		20: {nil, nil}, // gone before its name was read
		30: {[]byte("worker\x00"), nil},
	})
	scan := func(fn func(pid int32, inode uint64)) error {
		// 30 before 10: in a container the kernel's order (by initial
		// namespace PID) need not be the namespace's.
		for _, r := range [][2]uint64{{30, 2}, {30, 4}, {10, 1}, {10, 2}, {20, 3}} {
			fn(int32(r[0]), r[1])
		}
		return nil
	}
	o, err := FromScan(fs, scan)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]snapshot.Owner{1: {PID: 10, Name: "server"}, 2: {PID: 10, Name: "server"}, 4: {PID: 30, Name: "worker"}}
	if o.Len() != len(want) {
		t.Errorf("%d owners, want %d", o.Len(), len(want))
	}
	for ino, w := range want {
		if got, ok := o.Lookup(ino); !ok || got != w {
			t.Errorf("inode %d: got %+v %v, want %+v (the lowest PID wins a shared socket)", ino, got, ok, w)
		}
	}
	if _, ok := o.Lookup(3); ok {
		t.Error("a vanished process owns a socket")
	}

	boom := errors.New("iterator failed")
	if _, err := FromScan(fs, func(func(int32, uint64)) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("scan error: got %v", err)
	}
}

// BenchmarkFromScan: 200,000 socket descriptors over 10 processes, the
// -p map of the 100k-connection benchmark.
func BenchmarkFromScan(b *testing.B) {
	procs := map[int]fakeProcess{}
	for pid := 100; pid < 110; pid++ {
		procs[pid] = fakeProcess{[]byte("/usr/bin/farm\x00"), nil}
	}
	fs := fakeProc(b, procs)
	const n = 200000
	scan := func(fn func(pid int32, inode uint64)) error {
		for i := 0; i < n; i++ {
			fn(int32(100+i*10/n), uint64(1000000+i))
		}
		return nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if o, err := FromScan(fs, scan); err != nil || o.Len() != n {
			b.Fatal(err, o.Len())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/socket")
}

func TestSocketInode(t *testing.T) {
	tests := map[string]uint64{
		"socket:[12345]": 12345, "[0000]:77": 77, "socket:[0x10]": 16, "socket:[010]": 8,
	}
	for in, want := range tests {
		if got, ok := socketInode([]byte(in)); !ok || got != want {
			t.Errorf("socketInode(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"socket:[]", "socket:[12a]", "pipe:[123]", "socket:[18446744073709551615]", "socket:[99999999999999999999]", "anon_inode:[eventfd]"} {
		if v, ok := socketInode([]byte(bad)); ok {
			t.Errorf("socketInode(%q) = %d, want failure", bad, v)
		}
	}
}
