package tracer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func socketFDRecords(recs ...[2]uint64) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.NativeEndian.AppendUint64(b, r[1])
		b = binary.NativeEndian.AppendUint32(b, uint32(r[0]))
		b = binary.NativeEndian.AppendUint32(b, 7) // fd
	}
	return b
}

func TestReadSocketFDs(t *testing.T) {
	raw := socketFDRecords([2]uint64{1, 100}, [2]uint64{1, 1 << 40}, [2]uint64{4242, 7})
	// One byte per read: every record arrives split.
	var got []string
	err := readSocketFDs(iotest.OneByteReader(bytes.NewReader(raw)), func(pid int32, ino uint64) {
		got = append(got, fmt.Sprintf("%d:%d", pid, ino))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "1:100 1:1099511627776 4242:7"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if err := readSocketFDs(bytes.NewReader(raw[:len(raw)-3]), func(int32, uint64) {}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("a truncated record gave %v", err)
	}
	if err := readSocketFDs(iotest.ErrReader(iotest.ErrTimeout), func(int32, uint64) {}); err == nil {
		t.Fatal("a read error was not reported")
	}
}

// BenchmarkReadSocketFDs decodes what the iterator writes for 200,000
// socket descriptors.
func BenchmarkReadSocketFDs(b *testing.B) {
	var recs [][2]uint64
	for i := 0; i < 200000; i++ {
		recs = append(recs, [2]uint64{uint64(100 + i/20000), uint64(1000000 + i)})
	}
	raw := socketFDRecords(recs...)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		n := 0
		if err := readSocketFDs(bytes.NewReader(raw), func(int32, uint64) { n++ }); err != nil || n != len(recs) {
			b.Fatal(err, n)
		}
	}
}
