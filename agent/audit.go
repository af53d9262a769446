package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// Audit formats.
const (
	FormatJSON = "json" // exactly life --json's lines
	FormatOCSF = "ocsf" // OCSF 1.x Network Activity (class 4001)
)

// AuditConfig says where and how the audit log is written.
type AuditConfig struct {
	// Path is the log file; "" or "-" writes to Stdout.
	Path   string
	Stdout io.Writer
	// Format is FormatJSON or FormatOCSF.
	Format string
	// MaxSizeMB rotates the file when it would grow beyond this many MiB
	// (0: never); MaxBackups rotated files are kept (0: all).
	MaxSizeMB  int
	MaxBackups int
	// Compress gzips rotated files.
	Compress bool
	// WallOffsetNs converts the tracer's monotonic times to wall-clock time.
	WallOffsetNs int64
	// Host names the machine in OCSF records (device.hostname).
	Host string
}

// AuditLog writes one record per finished connection, buffered; Flush
// writes the buffer out (the agent calls it every second and at exit).
// Write errors are counted and returned by Flush and the Write methods,
// never dropped. It is safe for concurrent use.
type AuditLog struct {
	cfg    AuditConfig
	mu     sync.Mutex
	file   *lumberjack.Logger // nil for stdout
	sink   io.Writer
	buf    *lineBuf
	ew     output.EventWriter
	ocsf   ocsfEncoder
	lines  uint64
	errors uint64
	// lastErr is the newest write error not yet reported.
	lastErr error
}

// errCounter counts write errors that reach the sink.
type errCounter struct {
	w io.Writer
	a *AuditLog
}

func (e errCounter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.a.errors++
		e.a.lastErr = err
	}
	return n, err
}

// OpenAudit opens the audit log. A file is opened (created 0600) at the
// first write, so a bad path shows in the first Flush; OpenAudit checks it
// at once instead by opening it.
func OpenAudit(cfg AuditConfig) (*AuditLog, error) {
	if cfg.Format == "" {
		cfg.Format = FormatJSON
	}
	if cfg.Format != FormatJSON && cfg.Format != FormatOCSF {
		return nil, fmt.Errorf("audit format %q: want %s or %s", cfg.Format, FormatJSON, FormatOCSF)
	}
	a := &AuditLog{cfg: cfg}
	var w io.Writer = cfg.Stdout
	if cfg.Path != "" && cfg.Path != "-" {
		a.file = &lumberjack.Logger{Filename: cfg.Path, MaxSize: cfg.MaxSizeMB, MaxBackups: cfg.MaxBackups, Compress: cfg.Compress}
		if cfg.MaxSizeMB == 0 {
			// lumberjack reads 0 as 100 MiB; "never" is the largest size.
			a.file.MaxSize = 1 << 30
		}
		// Open (or create) it now, so that a bad path fails the start.
		if err := touch(cfg.Path); err != nil {
			return nil, fmt.Errorf("audit log %s: %w", cfg.Path, err)
		}
		w = a.file
	}
	a.sink = errCounter{w: w, a: a}
	a.buf = &lineBuf{w: a.sink}
	a.ew = output.EventWriter{W: a.buf, JSON: true, WallOffsetNs: cfg.WallOffsetNs}
	a.ocsf = ocsfEncoder{wallOffsetNs: cfg.WallOffsetNs, host: cfg.Host}
	return a, nil
}

// touch creates the log file (0600) if it does not exist; lumberjack
// opens it at the next write.
func touch(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Conn writes a finished connection's record.
func (a *AuditLog) Conn(c *conn.Conn) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines++
	if a.cfg.Format == FormatOCSF {
		_, err := a.buf.Write(a.ocsf.encode(c))
		return err
	}
	return a.ew.Life(c)
}

// Loss is a gap in the record: events the kernel or the agent could not
// deliver between two times.
type Loss struct {
	From, To time.Time
	// Lost counts events per reason (ring_full, storage_fail,
	// accept_miss, recursion, user_space, table_eviction).
	Lost map[string]uint64
}

// LossJSON is the loss record of the audit log (both formats).
type LossJSON struct {
	Kind  string            `json:"kind"` // "loss"
	Time  string            `json:"time"`
	From  string            `json:"from"`
	To    string            `json:"to"`
	Lost  map[string]uint64 `json:"lost"`
	Total uint64            `json:"total"`
}

// Loss writes a loss record: a gap is visible in the log itself.
func (a *AuditLog) Loss(l Loss) error {
	rec := LossJSON{Kind: "loss", Time: l.To.UTC().Format(time.RFC3339Nano), From: l.From.UTC().Format(time.RFC3339Nano),
		To: l.To.UTC().Format(time.RFC3339Nano), Lost: l.Lost}
	for _, n := range l.Lost {
		rec.Total += n
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines++
	_, err = a.buf.Write(append(b, '\n'))
	return err
}

// Flush writes out what is buffered. After a write error the buffered
// records are dropped and the error returned: they are counted in
// Stats' write errors.
func (a *AuditLog) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushLocked()
}

func (a *AuditLog) flushLocked() error {
	return a.buf.Flush()
}

// lineBuf buffers whole records: every Write is one or more complete
// lines, and a flush writes only what Writes gave, so a rotation (which
// lumberjack does between two writes) never splits a line across files.
type lineBuf struct {
	w   io.Writer
	buf []byte
}

// lineBufMax is when a Write flushes by itself: well below the smallest
// rotation size (1 MiB), which lumberjack refuses a single write beyond.
const lineBufMax = 64 << 10

func (l *lineBuf) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if len(l.buf) >= lineBufMax {
		if err := l.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (l *lineBuf) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// Reopen flushes and closes the file, so that the next write opens the
// path anew: after logrotate renamed it (SIGHUP), records go to a new file.
func (a *AuditLog) Reopen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.flushLocked()
	if a.file != nil {
		if cerr := a.file.Close(); err == nil {
			err = cerr
		}
		// The new file appears now, not at the next record.
		if werr := touch(a.cfg.Path); err == nil {
			err = werr
		}
	}
	return err
}

// Close flushes and closes the log.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.flushLocked()
	if a.file != nil {
		if cerr := a.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Stats returns the records written and the write errors so far.
func (a *AuditLog) Stats() (records, writeErrors uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lines, a.errors
}

// sortedReasons lists a loss map's reasons in a fixed order, for messages.
func sortedReasons(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
