// Package trace holds the trace and life subcommands, which share one run
// function: trace prints every TCP state transition with the connection's
// owner, life one line per finished connection. Both stream the tracer's
// events through merged's table and stream, and fall back to polling /proc
// without BPF.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// TraceOptions are the flags shared by trace and life.
type TraceOptions struct {
	Env           cmdutil.Env
	JSON          bool
	PIDs          []int
	Ports         []int
	V4, V6        bool
	AllNamespaces bool
	Interval      time.Duration // polling fallback period
	Duration      time.Duration // stop after this long (0: until a signal)
	// Life selects life's output: one line per finished connection.
	Life bool
	// Failed keeps only connections that failed or ended abnormally (life).
	Failed bool
	// skipAccept attaches no accept hook (tests of the degraded mode).
	skipAccept bool
	ids        *cmdutil.Identities
	// Identity: --identity, --cgroup, --container.
	Identity cmdutil.IdentityFlags
}

const (
	traceLong = "trace prints one line per TCP state transition: time, owner pid and command, " +
		"local and remote address, old -> new state and the time spent in the old state. " +
		"The pid is the process that connected or accepted the connection, not the task " +
		"that happened to be on the CPU."
	traceExample = `  # every transition in this network namespace, as root
  bpfnetstat trace
  # JSON lines for one port, for ten seconds
  bpfnetstat trace --json --port 443 --duration 10s`
	lifeLong = "life prints one line per closed TCP connection: owner pid and command, local and " +
		"remote address, direction, payload bytes sent and received, duration and how the owner was learnt."
	lifeExample = `  # finished connections of two processes
  bpfnetstat life --pid 1234,5678
  # IPv4 only, every network namespace
  bpfnetstat life -4 --all-namespaces`
)

// NewTraceCmd is the trace subcommand; runF, when not nil, replaces
// TraceRun (tests check the flags with it).
func NewTraceCmd(env cmdutil.Env, runF func(*TraceOptions) error) *cobra.Command {
	return newCmd(env, runF, false)
}

// NewLifeCmd is the life subcommand; runF, when not nil, replaces TraceRun.
func NewLifeCmd(env cmdutil.Env, runF func(*TraceOptions) error) *cobra.Command {
	return newCmd(env, runF, true)
}

func newCmd(env cmdutil.Env, runF func(*TraceOptions) error, life bool) *cobra.Command {
	o := &TraceOptions{Env: env, Life: life}
	cmd := &cobra.Command{
		Use:     "trace",
		Short:   "print every TCP state transition with the connection's owner",
		Long:    traceLong,
		Example: traceExample,
		Args:    cmdutil.NoArgs,
	}
	cmd.SetFlagErrorFunc(cmdutil.FlagError)
	if life {
		cmd.Use = "life"
		cmd.Short = "print one line per finished TCP connection (like tcplife, exact for servers)"
		cmd.Long, cmd.Example = lifeLong, lifeExample
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "JSON lines with stable snake_case fields")
	if life {
		f.BoolVar(&o.Failed, "failed", false, "only connections that failed or ended abnormally: refused, timeout, unreachable, reset, aborted, not_accepted, abandoned")
	}
	f.IntSliceVar(&o.PIDs, "pid", nil, "only connections owned by these PIDs")
	f.IntSliceVar(&o.Ports, "port", nil, "only connections with this local or remote port")
	f.BoolVarP(&o.V4, "ipv4", "4", false, "only IPv4")
	f.BoolVarP(&o.V6, "ipv6", "6", false, "only IPv6")
	f.BoolVar(&o.AllNamespaces, "all-namespaces", false, "every network namespace (adds a netns column)")
	f.DurationVar(&o.Interval, "interval", time.Second, "polling period when eBPF is not available")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: until Ctrl-C or SIGTERM)")
	o.Identity.Add(f, true)
	cmdutil.Allowed(f, "pid", cmdutil.WantPIDs)
	cmdutil.Allowed(f, "port", cmdutil.WantPorts)
	cmdutil.Allowed(f, "interval", cmdutil.WantInterval)
	cmdutil.Allowed(f, "duration", cmdutil.WantTimeout)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.validate(cmd.Flags()); err != nil {
			return err
		}
		if runF != nil {
			return runF(o)
		}
		return TraceRun(o)
	}
	return cmd
}

// validate refuses what the flags' types let through: every value is in
// range before anything is loaded or polled.
func (o *TraceOptions) validate(f *pflag.FlagSet) error {
	return cmdutil.FirstError(
		cmdutil.CheckPIDs("pid", o.PIDs),
		cmdutil.CheckPorts("port", o.Ports),
		cmdutil.CheckExclusive(f, "ipv4", "ipv6"),
		cmdutil.CheckInterval("interval", o.Interval),
		cmdutil.CheckTimeout("duration", o.Duration),
	)
}

func (o *TraceOptions) wants(c *conn.Conn) bool {
	if !o.ids.Wants(&c.Owner) {
		return false
	}
	if o.V4 != o.V6 {
		if o.V4 && c.Family != snapshot.FamilyInet && !c.Local.Addr().Is4In6() {
			return false
		}
		if o.V6 && (c.Family != snapshot.FamilyInet6 || c.Local.Addr().Is4In6()) {
			return false
		}
	}
	if len(o.PIDs) > 0 {
		ok := false
		for _, p := range o.PIDs {
			if uint32(p) == c.Owner.PID {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(o.Ports) > 0 {
		ok := false
		for _, p := range o.Ports {
			if uint16(p) == c.Local.Port() || uint16(p) == c.Remote.Port() {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TraceRun runs trace, or life with o.Life, until a signal or o.Duration.
// It ends with an error (writing output: ...) at the first line it cannot
// write: for an audit trail a lost line is lost data.
func TraceRun(o *TraceOptions) error {
	if err := cmdutil.CheckInterval("interval", o.Interval); err != nil {
		return err // the polling fallback's ticker must never get 0
	}
	env := o.Env
	netns := cmdutil.OwnNetNS()
	if o.AllNamespaces {
		netns = 0
	}
	// Lines are buffered and written whenever the reader has caught up
	// with the ring buffer: as prompt as a write per line, without a
	// system call per line under load.
	out := bufio.NewWriterSize(env.Stdout, 64<<10)
	ids, err := o.Identity.Open(env)
	if err != nil {
		return err
	}
	defer ids.Close()
	o.ids = ids
	w := &output.EventWriter{W: out, JSON: o.JSON, NetNS: o.AllNamespaces, Identity: o.Identity.Show}
	w.WallOffsetNs = time.Now().UnixNano() - int64(tracer.MonotonicNow())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var deadline <-chan time.Time
	if o.Duration > 0 {
		deadline = time.After(o.Duration)
	}

	// life needs one record per socket, not every transition.
	tr, err := cmdutil.OpenTracer(tracer.Config{NetNS: netns, EndsOnly: o.Life, AcceptInClose: o.Life, SkipAccept: o.skipAccept || noAcceptBuild, CgroupDir: ids.CgroupDir()})
	if err != nil {
		fmt.Fprintf(env.Stderr, "bpfnetstat: %s; falling back to polling /proc every %v: connections shorter than that are missed\n", cmdutil.WhyNoBPF(env, err), o.Interval)
		return runPolling(o, env, w, out.Flush, sigs, deadline)
	}
	defer tr.Close()
	ids.Namer.SetRemoved(tr.RemovedCgroupPath)

	// trace and life only stream: a closed connection is forgotten at once.
	table := merged.NewTable(merged.TableConfig{DropClosed: true})
	seedFromSnapshot(table, env, ids)
	stream := merged.NewStream(table, 0)
	degraded := tracer.Degraded(tr.Hooks)
	for _, d := range degraded {
		stream.NoAccept = stream.NoAccept || d.Role == tracer.RoleAccept
	}
	fmt.Fprintln(env.Stderr, startLine(tr.Hooks, degraded))
	if o.Life {
		w.LifeHeader()
	} else {
		w.TraceHeader()
	}
	if err := out.Flush(); err != nil {
		return cmdutil.WriteError(err)
	}

	// werr is the first write error: nothing more is written after it.
	var werr error
	emit := func(t *conn.Transition) {
		if werr != nil || !o.wants(&t.Conn) {
			return
		}
		if o.Life {
			if t.NewlyDone && !t.Conn.Listener && (!o.Failed || t.Conn.Failure() != "") {
				werr = w.Life(&t.Conn)
			}
			return
		}
		werr = w.Trace(t)
	}
	flush := func() {
		if werr == nil {
			werr = out.Flush()
		}
	}
	// Losses are reported while they happen, at most one stderr line (and
	// one JSON record in the stream) per lossEvery, so that a gap is seen
	// where it is; the closing loss line keeps the totals.
	losses := merged.NewLossWatch(tracer.MonotonicNow(), lossEvery)
	lossNow := func() (merged.Loss, bool) {
		c, err := tr.Counters()
		if err != nil {
			return merged.Loss{}, false
		}
		return merged.LossOf(c, tr.UserDrops(), table.Evictions), true
	}
	writeLoss := func(r merged.LossReport, stderr bool) {
		rec := lossRecord(r)
		if stderr {
			fmt.Fprintln(env.Stderr, output.LossText(&rec))
		}
		if werr == nil {
			werr = w.Loss(&rec)
		}
	}

	// The events are read, handled and written on this goroutine, in
	// batches: a reader goroutine handing them over cost a thread wake-up
	// per batch and kept the runtime's monitor polling. Signals and the
	// deadline stop the reader from a goroutine of their own; it then
	// drains what the ring buffer already holds and returns. After a write
	// error the events are still read to the end, and counted in the loss
	// line, not written.
	stopReading := make(chan struct{})
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			close(stopReading)
			tr.Flush()
		})
	}
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		select {
		case <-sigs:
		case <-deadline:
		case <-watchDone:
			return
		}
		stop()
	}()
	start := tracer.MonotonicNow()
	lastTick, lastLoss, lastExpire := start, start, start
	// The sweep reports the sockets whose end no program saw (tracer.Sweep)
	// every merged.SweepEvery and at the stop: in the one namespace the
	// tracer watches, or for life in every namespace (its kept states hold
	// their namespaces; trace's do not, and trace --all-namespaces is not
	// swept). A failed sweep is said once, and sweeping stops.
	var sweeper sweeper
	switch {
	case netns != 0:
		sweeper = merged.NewSweeper(tr, start)
	case o.Life:
		sweeper = newHostSweeper(tr, start, func(err error) {
			fmt.Fprintf(env.Stderr, "bpfnetstat: sweep: %s; the sockets there whose end no program saw are not reported\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		})
	}
	defer func() {
		if sweeper != nil {
			sweeper.Close()
		}
	}()
	sweep := func(now uint64, final bool) {
		if sweeper == nil {
			return
		}
		evs, err := sweeper.Sweep(now, final)
		if err != nil {
			fmt.Fprintf(env.Stderr, "bpfnetstat: sweeping the kept socket states: %v; from now on a socket whose end no program saw is not reported\n", err)
			sweeper.Close()
			sweeper = nil
		}
		for i := range evs {
			ids.Name(&evs[i].Owner)
			stream.Push(&evs[i], emit)
		}
	}
	periodic := func() {
		now := tracer.MonotonicNow()
		if sweeper != nil && sweeper.Due(now) {
			sweep(now, false)
		}
		if now-lastTick >= uint64(100*time.Millisecond) {
			lastTick = now
			stream.Flush(now, emit)
			flush()
			if now-lastExpire > 5e9 {
				table.Expire(now)
				lastExpire = now
			}
		}
		if now-lastLoss >= uint64(lossCheck) {
			lastLoss = now
			if cur, ok := lossNow(); ok {
				if r, due := losses.Check(now, cur); due {
					writeLoss(r, true)
					flush()
				}
			}
		}
		if werr != nil {
			stop()
		}
	}
	stopErr := tr.Run(stopReading, 100*time.Millisecond, func(uint64) {
		// The ring is empty: out with what is buffered.
		flush()
		periodic()
	}, func(evs []tracer.Event) {
		for i := range evs {
			ids.Name(&evs[i].Owner)
			stream.Push(&evs[i], emit)
		}
		if len(evs) == cap(evs) {
			periodic() // a full batch: more is coming, no idle soon
		}
		// Under churn a batch follows a batch; a goroutine that runs
		// 10 ms without a pause is preempted by the runtime's monitor,
		// which then polls every 20 us for a while. A yield per batch
		// costs less than those wake-ups.
		runtime.Gosched()
	})
	sweep(tracer.MonotonicNow(), true)
	stream.Flush(^uint64(0), emit)
	if cur, ok := lossNow(); ok {
		if r, due := losses.Final(tracer.MonotonicNow(), cur); due {
			writeLoss(r, false)
		}
	}
	flush()
	reportLoss(env.Stderr, tr, table)
	if werr != nil {
		return cmdutil.WriteError(werr)
	}
	if stopErr != nil && !errors.Is(stopErr, os.ErrClosed) && !errors.Is(stopErr, os.ErrDeadlineExceeded) {
		return fmt.Errorf("reading events: %w", stopErr)
	}
	return nil
}

const (
	// lossCheck is how often the loss counters are read while tracing.
	lossCheck = time.Second
	// lossEvery is the least time between two loss reports.
	lossEvery = uint64(5 * time.Second)
)

// lossRecord is a loss report as output renders it.
func lossRecord(r merged.LossReport) output.LossRecord {
	return output.LossRecord{FromNs: r.FromNs, ToNs: r.ToNs, RingFull: r.RingFull, SocketStorage: r.SocketStorage,
		AcceptUnresolved: r.AcceptUnresolved, KernelRecursion: r.KernelRecursion, UserSpace: r.UserSpace, TableEvictions: r.TableEvictions}
}

// startLine is the one stderr line that says the tracer runs: the hooks
// attached and, when a role has none, which owners degrade and why.
func startLine(hooks []tracer.HookStatus, degraded []tracer.Degradation) string {
	var attached []string
	for _, h := range hooks {
		if h.Attached {
			attached = append(attached, h.Name)
		}
	}
	line := "bpfnetstat: tracing TCP connections (" + strings.Join(attached, ", ") + ")"
	for _, d := range degraded {
		line += "; degraded: " + d.String()
	}
	return line + "; Ctrl-C to stop"
}

// reportLoss prints the loss counters: loss is never silent.
func reportLoss(w io.Writer, tr *tracer.Tracer, table *merged.Table) {
	c, err := tr.Counters()
	if err != nil {
		fmt.Fprintf(w, "bpfnetstat: reading loss counters: %v\n", err)
		return
	}
	fmt.Fprintf(w, "bpfnetstat: %d events, lost: %d (ring buffer full), %d (socket storage), %d (accept unresolved), %d (kernel recursion), %d (user space), %d (table evictions)\n",
		c.Events, c.RingFull, c.StorageFail, c.AcceptMiss, c.RecursionLost, tr.UserDrops(), table.Evictions)
}

// seedFromSnapshot gives connections older than the tracer their owners.
func seedFromSnapshot(table *merged.Table, env cmdutil.Env, ids *cmdutil.Identities) {
	fs := snapshot.NewFS(env.ProcRoot)
	owners := cmdutil.ReadOwners(fs, env, false)
	for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
		fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
			if s == nil {
				return
			}
			ow, ok := owners.Lookup(s.Inode)
			if !ok || s.Inode == 0 {
				return
			}
			p := conn.Process{PID: uint32(ow.PID), UID: uint32(s.UID), Comm: ow.Name}
			ids.Name(&p)
			if conn.State(s.State) == conn.TCPListen {
				table.SeedListener(s.Local, p)
			} else {
				table.SeedTuple(s.Local, s.Remote, p)
			}
		})
	}
}

// runPolling is the degraded mode: successive /proc snapshots, diffed.
func runPolling(o *TraceOptions, env cmdutil.Env, w *output.EventWriter, flush func() error, sigs chan os.Signal, deadline <-chan time.Time) error {
	type key struct{ l, r netip.AddrPort }
	type seen struct {
		state conn.State
		owner conn.Process
		since uint64
		first uint64
		fam   snapshot.Family
	}
	fs := snapshot.NewFS(env.ProcRoot)
	prev := map[key]seen{}
	poll := func() map[key]seen {
		owners := cmdutil.ReadOwners(fs, env, false)
		cur := map[key]seen{}
		now := tracer.MonotonicNow()
		for _, t := range []snapshot.Table{snapshot.TableTCP, snapshot.TableTCP6} {
			fs.EachInet(t, func(s *snapshot.Socket, bad *snapshot.LineError) {
				if s == nil || conn.State(s.State) == conn.TCPListen {
					return
				}
				k := key{s.Local, s.Remote}
				v := seen{state: conn.State(s.State), since: now, first: now, fam: s.Family}
				if ow, ok := owners.Lookup(s.Inode); ok && s.Inode != 0 {
					v.owner = conn.Process{PID: uint32(ow.PID), UID: uint32(s.UID), Comm: ow.Name}
					o.ids.Name(&v.owner)
				}
				if p, ok := prev[k]; ok {
					v.first = p.first
					v.since = p.since
					if v.owner.PID == 0 {
						v.owner = p.owner
					}
					if p.state != v.state {
						v.since = now
					}
				}
				cur[k] = v
			})
		}
		return cur
	}
	connOf := func(k key, v seen) conn.Conn {
		return conn.Conn{Family: v.fam, Local: k.l, Remote: k.r, State: v.state, Owner: v.owner,
			OwnerSource: conn.OwnerSnapshot, Direction: conn.DirUnknown, BirthNs: v.first}
	}
	if o.Life {
		w.LifeHeader()
	} else {
		w.TraceHeader()
	}
	if err := flush(); err != nil {
		return cmdutil.WriteError(err)
	}
	prev = poll()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-sigs:
			return nil
		case <-deadline:
			return nil
		case <-tick.C:
		}
		cur := poll()
		now := tracer.MonotonicNow()
		for k, v := range cur {
			p, ok := prev[k]
			if !ok || p.state == v.state {
				continue
			}
			c := connOf(k, v)
			if !o.Life && o.wants(&c) {
				if err := w.Trace(&conn.Transition{Conn: c, OldState: p.state, NewState: v.state, TimeNs: now, InOldNs: now - p.since}); err != nil {
					return cmdutil.WriteError(err)
				}
			}
		}
		for k, p := range prev {
			if _, ok := cur[k]; ok {
				continue
			}
			c := connOf(k, p)
			c.Closed, c.CloseNs, c.State = true, now, conn.TCPClose
			if !o.wants(&c) {
				continue
			}
			var err error
			if o.Life {
				if !o.Failed {
					err = w.Life(&c)
				}
			} else {
				err = w.Trace(&conn.Transition{Conn: c, OldState: p.state, NewState: conn.TCPClose, TimeNs: now, InOldNs: now - p.since, NewlyDone: true})
			}
			if err != nil {
				return cmdutil.WriteError(err)
			}
		}
		prev = cur
		if err := flush(); err != nil {
			return cmdutil.WriteError(err)
		}
	}
}
