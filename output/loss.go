package output

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// LossRecord is the events trace or life lost in a window of time
// (monotonic ns, FromNs exclusive, ToNs inclusive), per reason.
type LossRecord struct {
	FromNs, ToNs                               uint64
	RingFull, SocketStorage, AcceptUnresolved  uint64
	KernelRecursion, UserSpace, TableEvictions uint64
}

// Total is the number of events lost.
func (r *LossRecord) Total() uint64 {
	return r.RingFull + r.SocketStorage + r.AcceptUnresolved + r.KernelRecursion + r.UserSpace + r.TableEvictions
}

// LossJSON is a gap in the stream of trace --json or life --json, where it
// happened: kind "loss", the window and the count per reason (the names
// of the closing loss line, in snake_case).
type LossJSON struct {
	Kind             string `json:"kind"` // "loss"
	Time             string `json:"time"` // when it was written: to
	From             string `json:"from"`
	To               string `json:"to"`
	Lost             uint64 `json:"lost"`
	RingBufferFull   uint64 `json:"ring_buffer_full"`
	SocketStorage    uint64 `json:"socket_storage"`
	AcceptUnresolved uint64 `json:"accept_unresolved"`
	KernelRecursion  uint64 `json:"kernel_recursion"`
	UserSpace        uint64 `json:"user_space"`
	TableEvictions   uint64 `json:"table_evictions"`
}

// Loss writes a loss record into the stream: a JSON line with JSON, and
// nothing in text (the text stream's loss goes to stderr, LossText).
func (e *EventWriter) Loss(r *LossRecord) error {
	if !e.JSON {
		return nil
	}
	to := e.wall(r.ToNs).Format(time.RFC3339Nano)
	b, err := json.Marshal(LossJSON{
		Kind: "loss", Time: to, From: e.wall(r.FromNs).Format(time.RFC3339Nano), To: to, Lost: r.Total(),
		RingBufferFull: r.RingFull, SocketStorage: r.SocketStorage, AcceptUnresolved: r.AcceptUnresolved,
		KernelRecursion: r.KernelRecursion, UserSpace: r.UserSpace, TableEvictions: r.TableEvictions,
	})
	if err != nil {
		return err
	}
	_, err = e.W.Write(append(b, '\n'))
	return err
}

// LossText is the stderr line of a loss record: "bpfnetstat: 1200 events
// lost in the last 5.0s: 1180 ring buffer full, 20 table evictions",
// naming every reason that counted.
func LossText(r *LossRecord) string {
	var reasons []string
	for _, c := range []struct {
		n    uint64
		name string
	}{
		{r.RingFull, "ring buffer full"}, {r.SocketStorage, "socket storage"}, {r.AcceptUnresolved, "accept unresolved"},
		{r.KernelRecursion, "kernel recursion"}, {r.UserSpace, "user space"}, {r.TableEvictions, "table evictions"},
	} {
		if c.n > 0 {
			reasons = append(reasons, strconv.FormatUint(c.n, 10)+" "+c.name)
		}
	}
	secs := float64(r.ToNs-min(r.FromNs, r.ToNs)) / 1e9
	return "bpfnetstat: " + strconv.FormatUint(r.Total(), 10) + " events lost in the last " +
		strconv.FormatFloat(secs, 'f', 1, 64) + "s: " + strings.Join(reasons, ", ")
}
