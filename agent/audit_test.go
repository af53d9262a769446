package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"golang.org/x/sys/unix"
)

func testConn(i int) conn.Conn {
	return conn.Conn{Cookie: uint64(1000 + i), Family: snapshot.FamilyInet,
		Local:  netip.MustParseAddrPort("10.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("10.0.0.2:443"), NetNS: 4026531840,
		Owner: conn.Process{PID: uint32(100 + i), TID: uint32(100 + i), UID: 33, Comm: "curl"}, OwnerSource: conn.OwnerConnect,
		Direction: conn.DirActive, BirthNs: 1e9, Closed: true, CloseNs: 1e9 + 5e6, ClosedFrom: conn.TCPFinWait2,
		TxBytes: uint64(i), RxBytes: 2 * uint64(i), State: conn.TCPClose}
}

// The json format is byte for byte what life --json writes.
func TestAuditJSONIsLifeJSON(t *testing.T) {
	var got, want bytes.Buffer
	a, err := OpenAudit(AuditConfig{Stdout: &got, WallOffsetNs: 1700000000e9})
	if err != nil {
		t.Fatal(err)
	}
	ew := output.EventWriter{W: &want, JSON: true, WallOffsetNs: 1700000000e9}
	for i := range 3 {
		c := testConn(i)
		if i == 2 {
			c.Err = int32(unix.ECONNREFUSED)
			c.ClosedFrom = conn.TCPSynSent
		}
		if err := a.Conn(&c); err != nil {
			t.Fatal(err)
		}
		ew.Life(&c)
	}
	if got.Len() != 0 {
		t.Errorf("%d bytes written before a flush: records must be buffered", got.Len())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("audit log:\n%s\nlife --json:\n%s", got.String(), want.String())
	}
	if !strings.Contains(got.String(), `"error":"refused"`) {
		t.Errorf("the refused connection has no error field:\n%s", got.String())
	}
}

func readLines(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		f.Close()
	}
	return out
}

// Rotation at 1 MiB under a steady stream keeps every line whole and
// none twice, and keeps the number of backups asked for.
func TestAuditRotationLosesNoLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, err := OpenAudit(AuditConfig{Path: path, MaxSizeMB: 1, MaxBackups: 100})
	if err != nil {
		t.Fatal(err)
	}
	const n = 12000 // about 4 MiB of records
	for i := range n {
		c := testConn(i)
		if err := a.Conn(&c); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			if err := a.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if len(files) < 3 {
		t.Fatalf("%d rotated files, want at least 3 for 4 MiB at 1 MiB each", len(files))
	}
	for _, f := range append(files, path) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1<<20 {
			t.Errorf("%s: %d bytes, above the 1 MiB limit", f, st.Size())
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	seen := map[uint64]int{}
	for _, l := range readLines(t, append(files, path)...) {
		var r output.LifeJSON
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("broken line %q: %v", l, err)
		}
		seen[r.Cookie]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct records, want %d", len(seen), n)
	}
	for c, k := range seen {
		if k != 1 {
			t.Errorf("cookie %d written %d times", c, k)
		}
	}
}

// Reopen after a rename (logrotate's way) writes to a new file at the
// path, and the renamed file keeps what came before.
func TestAuditReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, err := OpenAudit(AuditConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c := testConn(1)
	a.Conn(&c)
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	c2 := testConn(2)
	a.Conn(&c2) // buffered: goes to the old file at the reopen's flush
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no new file after Reopen: %v", err)
	}
	c3 := testConn(3)
	a.Conn(&c3)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if old, cur := readLines(t, path+".1"), readLines(t, path); len(old) != 2 || len(cur) != 1 {
		t.Errorf("old file %d lines (want 2), new file %d (want 1)", len(old), len(cur))
	}
}

// A write error is returned, counted and never silent.
func TestAuditWriteErrorCounted(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	a, err := OpenAudit(AuditConfig{Path: "/dev/full", MaxSizeMB: 0})
	if err != nil {
		t.Fatal(err)
	}
	c := testConn(1)
	a.Conn(&c)
	err = a.Flush()
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("Flush on /dev/full: %v, want ENOSPC", err)
	}
	if recs, errs := a.Stats(); recs != 1 || errs != 1 {
		t.Errorf("stats %d records, %d errors; want 1, 1", recs, errs)
	}
}

func TestAuditLossRecord(t *testing.T) {
	var buf bytes.Buffer
	a, _ := OpenAudit(AuditConfig{Stdout: &buf})
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := a.Loss(Loss{From: from, To: from.Add(time.Second), Lost: map[string]uint64{"ring_full": 7, "accept_miss": 2}}); err != nil {
		t.Fatal(err)
	}
	a.Flush()
	var r LossJSON
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	want := LossJSON{Kind: "loss", Time: "2026-01-02T03:04:06Z", From: "2026-01-02T03:04:05Z", To: "2026-01-02T03:04:06Z",
		Lost: map[string]uint64{"ring_full": 7, "accept_miss": 2}, Total: 9}
	if r.Kind != want.Kind || r.From != want.From || r.To != want.To || r.Total != want.Total || r.Lost["ring_full"] != 7 || r.Lost["accept_miss"] != 2 {
		t.Errorf("loss record %+v, want %+v", r, want)
	}
}

func TestAuditBadFormat(t *testing.T) {
	if _, err := OpenAudit(AuditConfig{Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := OpenAudit(AuditConfig{Path: "/nonexistent-dir/x/audit.log", MaxSizeMB: 1}); err == nil && os.Geteuid() != 0 {
		t.Error("unwritable path accepted")
	}
}
