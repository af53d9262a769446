package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"syscall"
	"testing"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

func TestLossRecord(t *testing.T) {
	r := LossRecord{FromNs: 2_000_000_000, ToNs: 7_500_000_000, RingFull: 1180, TableEvictions: 20}
	if got, want := LossText(&r), "bpfnetstat: 1200 events lost in the last 5.5s: 1180 ring buffer full, 20 table evictions"; got != want {
		t.Errorf("LossText:\n got %q\nwant %q", got, want)
	}
	var b bytes.Buffer
	w := &EventWriter{W: &b, WallOffsetNs: 1_714_566_896_000_000_000}
	if err := w.Loss(&r); err != nil || b.Len() != 0 {
		t.Fatalf("text stream: %v, wrote %q; want nothing (the loss goes to stderr)", err, b.String())
	}
	w.JSON = true
	if err := w.Loss(&r); err != nil {
		t.Fatal(err)
	}
	var got LossJSON
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || b.Bytes()[b.Len()-1] != '\n' {
		t.Fatalf("%v: %q", err, b.String())
	}
	if got.Kind != "loss" || got.From != "2024-05-01T12:34:58Z" || got.To != "2024-05-01T12:35:03.5Z" || got.Time != got.To ||
		got.Lost != 1200 || got.RingBufferFull != 1180 || got.TableEvictions != 20 || got.UserSpace != 0 {
		t.Errorf("loss record: %+v", got)
	}
}

// failingWriter fails every write with err after ok bytes went through.
type failingWriter struct {
	ok  int
	err error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= f.ok {
		f.ok -= len(p)
		return len(p), nil
	}
	n := f.ok
	f.ok = 0
	return n, f.err
}

// TestEventWriterWriteErrors: every record reports the writer's error.
func TestEventWriterWriteErrors(t *testing.T) {
	c := closed()
	tr := conn.Transition{Conn: c, OldState: conn.TCPSynSent, NewState: conn.TCPClose, TimeNs: c.CloseNs, NewlyDone: true}
	for _, js := range []bool{false, true} {
		for _, errno := range []error{syscall.ENOSPC, syscall.EPIPE} {
			w := &EventWriter{W: &failingWriter{err: errno}, JSON: js}
			if err := w.Trace(&tr); !errors.Is(err, errno) {
				t.Errorf("json %v: Trace: %v, want %v", js, err, errno)
			}
			if err := w.Life(&c); !errors.Is(err, errno) {
				t.Errorf("json %v: Life: %v, want %v", js, err, errno)
			}
			if err := w.Loss(&LossRecord{RingFull: 1}); js && !errors.Is(err, errno) {
				t.Errorf("json: Loss: %v, want %v", err, errno)
			}
		}
	}
}
