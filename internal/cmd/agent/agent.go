// Package agent is the agent subcommand: one long-running process that
// holds the tracer and writes the connection audit log, serves Prometheus
// metrics on /metrics (and /healthz), and answers the command line's
// owner look-ups on a root-only unix socket. The work is the agent
// package's; this package parses flags, handles SIGHUP (reopen the audit
// log) and SIGTERM/SIGINT (drain, flush, exit), and serves HTTP.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/agent"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
)

// DefaultListen is where /metrics is served unless --listen says
// otherwise: loopback only, on a port of bpfnetstat's own.
const DefaultListen = "127.0.0.1:9847"

// AgentOptions are agent's flags.
type AgentOptions struct {
	Env              cmdutil.Env
	AuditLog         string
	AuditFormat      string
	AuditMaxSizeMB   int
	AuditMaxBackups  int
	AuditCompress    bool
	Listen           string
	NetNS            string
	TopN             int
	MaxConnections   int
	RingBytes        int
	SnapshotInterval time.Duration
	Socket           string
	Duration         time.Duration
}

const (
	agentLong = "agent runs until stopped: it holds the eBPF tracer for every network namespace " +
		"(or the one --netns names), writes one audit record per finished TCP connection (life --json's " +
		"fields, or OCSF Network Activity with --audit-format ocsf) to stdout or --audit-log, with " +
		"size-based rotation, SIGHUP reopening and loss records; serves Prometheus metrics on --listen " +
		"(/metrics, /healthz); and answers owner look-ups of recently closed and TIME_WAIT connections " +
		"on a root-only unix socket (--socket)."
	agentExample = `  # audit log with rotation, metrics on the default loopback port
  bpfnetstat agent --audit-log /var/log/bpfnetstat/audit.jsonl
  # OCSF records to stdout, metrics on every address
  bpfnetstat agent --audit-format ocsf --listen :9847`
)

// NewAgentCmd is the agent subcommand; runF, when not nil, replaces
// AgentRun (tests check the flags with it).
func NewAgentCmd(env cmdutil.Env, runF func(*AgentOptions) error) *cobra.Command {
	o := &AgentOptions{Env: env}
	cmd := &cobra.Command{
		Use:     "agent",
		Short:   "always-on connection audit log and Prometheus metrics",
		Long:    agentLong,
		Example: agentExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				fmt.Fprintf(env.Stderr, "bpfnetstat agent: %v\n", err)
				return cmdutil.ExitError{Code: 2}
			}
			if runF != nil {
				return runF(o)
			}
			return AgentRun(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.AuditLog, "audit-log", "-", "audit log file (- for stdout)")
	f.StringVar(&o.AuditFormat, "audit-format", agent.FormatJSON, "audit record format: json (life --json's fields) or ocsf (OCSF 1.x Network Activity)")
	f.IntVar(&o.AuditMaxSizeMB, "audit-max-size", 100, "rotate the audit log at this many MiB (0: never)")
	f.IntVar(&o.AuditMaxBackups, "audit-max-backups", 10, "rotated audit logs to keep (0: all)")
	f.BoolVar(&o.AuditCompress, "audit-compress", false, "gzip rotated audit logs")
	f.StringVar(&o.Listen, "listen", DefaultListen, "address for /metrics and /healthz (empty: no HTTP)")
	f.StringVar(&o.NetNS, "netns", "", "watch only this network namespace (a path such as /run/netns/NAME or /proc/PID/ns/net; default: all)")
	f.IntVar(&o.TopN, "top-n", 20, "owners and destinations with a label of their own; the rest fold into ~other")
	f.IntVar(&o.MaxConnections, "max-connections", 65536, "connections the agent's table holds (open and recently closed); beyond, the oldest are evicted and counted")
	f.IntVar(&o.RingBytes, "ring-bytes", 8<<20, "BPF ring buffer size in bytes (a power of two, at least the page size)")
	f.DurationVar(&o.SnapshotInterval, "snapshot-interval", 5*time.Second, "time between two TIME_WAIT and ephemeral-port snapshots (each walks every TCP socket of the namespace)")
	f.StringVar(&o.Socket, "socket", agent.DefaultSocket, "unix socket for owner look-ups, root only (empty: none)")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: until SIGTERM or Ctrl-C)")
	return cmd
}

func (o *AgentOptions) validate() error {
	switch {
	case o.AuditFormat != agent.FormatJSON && o.AuditFormat != agent.FormatOCSF:
		return fmt.Errorf("--audit-format %q: want json or ocsf", o.AuditFormat)
	case o.AuditMaxSizeMB < 0:
		return fmt.Errorf("--audit-max-size %d: want 0 (never rotate) or more", o.AuditMaxSizeMB)
	case o.AuditMaxBackups < 0:
		return fmt.Errorf("--audit-max-backups %d: want 0 (keep all) or more", o.AuditMaxBackups)
	case o.TopN < 1 || o.TopN > 10000:
		return fmt.Errorf("--top-n %d: want 1 to 10000", o.TopN)
	case o.MaxConnections < 1024 || o.MaxConnections > 1<<26:
		return fmt.Errorf("--max-connections %d: want 1024 to %d", o.MaxConnections, 1<<26)
	case o.RingBytes < 4096 || o.RingBytes > 1<<30 || o.RingBytes&(o.RingBytes-1) != 0:
		return fmt.Errorf("--ring-bytes %d: want a power of two from 4096 to %d", o.RingBytes, 1<<30)
	case o.SnapshotInterval < 100*time.Millisecond:
		return fmt.Errorf("--snapshot-interval %v: want 100ms or more", o.SnapshotInterval)
	case o.Duration < 0:
		return fmt.Errorf("--duration %v: want 0 (until stopped) or more", o.Duration)
	}
	return nil
}

// AgentRun runs the agent until a signal or o.Duration.
func AgentRun(o *AgentOptions) error {
	env := o.Env
	host, _ := os.Hostname()
	// Signals first: a SIGTERM during start-up must still flush.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	cfg := agent.Config{MaxConns: o.MaxConnections, RingBytes: uint32(o.RingBytes), SnapshotInterval: o.SnapshotInterval, Stderr: env.Stderr}
	if o.NetNS != "" {
		var st syscall.Stat_t
		if err := syscall.Stat(o.NetNS, &st); err != nil {
			return fmt.Errorf("--netns: %w", err)
		}
		cfg.NetNS = uint32(st.Ino)
		snap, err := agent.NewNetNSSnapshotter(o.NetNS)
		if err != nil {
			return err
		}
		cfg.Snap = snap
	} else {
		cfg.Snap = agent.NewHostSnapshotter(env.ProcRoot)
	}
	// After Run, whose snapshots have stopped by then: lets go of the
	// namespaces the snapshots hold open.
	defer cfg.Snap.Close()

	a, err := agent.Start(cfg)
	if err != nil {
		return errors.New(cmdutil.WhyNoBPF(env, err) + "; the agent needs the eBPF tracer")
	}
	defer a.Close()

	audit, err := agent.OpenAudit(agent.AuditConfig{Path: o.AuditLog, Stdout: env.Stdout, Format: o.AuditFormat,
		MaxSizeMB: o.AuditMaxSizeMB, MaxBackups: o.AuditMaxBackups, Compress: o.AuditCompress,
		WallOffsetNs: agent.WallOffsetNs(), Host: host})
	if err != nil {
		return err
	}
	metrics := agent.NewMetrics(cmdutil.Version, o.TopN, a.Counts, audit.Stats)
	a.SetOutputs(audit, metrics)

	var srv *http.Server
	if o.Listen != "" {
		l, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{Registry: metrics.Registry, ErrorHandling: promhttp.ContinueOnError}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			if !a.Healthy() {
				http.Error(w, "event loop stalled", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		defer srv.Close()
	}
	if o.Socket != "" {
		l, err := agent.ServeOwners(o.Socket, a.Lookup)
		if err != nil {
			return fmt.Errorf("--socket: %w", err)
		}
		defer l.Close()
	}
	where := "all network namespaces"
	if o.NetNS != "" {
		where = "network namespace " + o.NetNS
	}
	fmt.Fprintf(env.Stderr, "bpfnetstat: agent tracing TCP connections in %s (%s); metrics on %s; audit log %s (%s)\n",
		where, a.Hooks(), dash(o.Listen), o.AuditLog, o.AuditFormat)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var deadline <-chan time.Time
		if o.Duration > 0 {
			deadline = time.After(o.Duration)
		}
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGHUP {
					if err := audit.Reopen(); err != nil {
						fmt.Fprintf(env.Stderr, "bpfnetstat: reopening the audit log: %v\n", err)
					}
					continue
				}
				cancel()
				return
			case <-deadline:
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return a.Run(ctx)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
