// Package timewait is the timewait subcommand: TIME_WAIT counts per owner
// and per remote endpoint, and ephemeral ports in use per local address and
// remote endpoint, from merged's rows and summary.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package timewait

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/merged"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// TimewaitOptions are timewait's flags.
type TimewaitOptions struct {
	Env      cmdutil.Env
	JSON     bool
	Interval time.Duration
	Count    int
	Top      int
	// Identity: --identity (container columns in text), --cgroup, --container.
	Identity cmdutil.IdentityFlags
}

const timewaitExample = `  # one report after two seconds of watching
  bpfnetstat timewait
  # a JSON report every ten seconds until Ctrl-C
  bpfnetstat timewait --json --interval 10s --count 0`

// NewTimewaitCmd is the timewait subcommand; runF, when not nil, replaces
// TimewaitRun (tests check the flags with it).
func NewTimewaitCmd(env cmdutil.Env, runF func(*TimewaitOptions) error) *cobra.Command {
	o := &TimewaitOptions{Env: env}
	cmd := &cobra.Command{
		Use:     "timewait",
		Example: timewaitExample,
		Short:   "TIME_WAIT pressure: counts per owner and per remote endpoint, ephemeral ports left",
		Long: "timewait counts TIME_WAIT sockets per owning program and per remote endpoint, and shows " +
			"how close each local address is to exhausting its ephemeral port range towards each remote " +
			"endpoint. A TIME_WAIT socket's owner is known when the tracer saw the connection close, so " +
			"the tool watches for --interval before its first report; run it longer (--count 0) to learn more owners.",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return TimewaitRun(o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "one JSON object per report")
	f.DurationVar(&o.Interval, "interval", 2*time.Second, "time between reports (the first comes after one interval)")
	f.IntVar(&o.Count, "count", 1, "number of reports (0: until Ctrl-C)")
	f.IntVar(&o.Top, "top", 10, "lines per list")
	o.Identity.Add(f, false)
	cmdutil.Allowed(f, "interval", cmdutil.WantInterval)
	cmdutil.Allowed(f, "count", cmdutil.WantCount)
	cmdutil.Allowed(f, "top", cmdutil.WantPositive)
	cmd.SetFlagErrorFunc(cmdutil.FlagError)
	return cmd
}

// validate refuses what the flags' types let through.
func (o *TimewaitOptions) validate() error {
	return cmdutil.FirstError(
		cmdutil.CheckInterval("interval", o.Interval),
		cmdutil.CheckCount("count", o.Count),
		cmdutil.CheckPositive("top", o.Top),
	)
}

// TimewaitRun prints o.Count reports (0: until a signal), one every
// o.Interval.
func TimewaitRun(o *TimewaitOptions) error {
	env := o.Env
	cmdutil.TuneForRefresh(env)
	ids, err := o.Identity.Open(env)
	if err != nil {
		return err
	}
	defer ids.Close()
	src := cmdutil.NewMergedSource(env, func(s string) { fmt.Fprintln(env.Stderr, s) }, ids)
	defer src.Close()
	lo, hi := merged.EphemeralRange(src.FS())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	w := bufio.NewWriter(env.Stdout)
	src.Rows() // a first look, so that owners can be remembered
	var sweepNotes merged.SweepNotes
	for n := 1; ; n++ {
		select {
		case <-time.After(o.Interval):
		case <-sigs:
			return nil
		}
		rows := src.Rows()
		kept := rows[:0]
		for i := range rows {
			if ids.WantsRow(rows[i].Ident) {
				kept = append(kept, rows[i])
			}
		}
		sum := merged.Summarize(kept, lo, hi, o.Top)
		sum.OwnerKnown = src.Live() != nil
		// Owner keys hold program names: escaped once, here, for the text
		// and the JSON alike, with the one rule of every output.
		for i := range sum.ByOwner {
			sum.ByOwner[i].Key = output.Escape(sum.ByOwner[i].Key)
		}
		if o.JSON {
			b, _ := json.Marshal(sum)
			w.Write(append(b, '\n'))
		} else {
			writeTimewaitText(w, sum)
		}
		if err := w.Flush(); err != nil {
			return cmdutil.WriteError(err)
		}
		sweepNotes.Check(src.Live(), env.Stderr)
		if o.Count > 0 && n >= o.Count {
			return nil
		}
	}
}

func writeTimewaitText(w *bufio.Writer, sum merged.Summary) {
	fmt.Fprintf(w, "TIME_WAIT sockets: %d\n\nBy owner:\n%8s  %s\n", sum.TimeWait, "COUNT", "PID/Program name")
	for _, c := range sum.ByOwner {
		fmt.Fprintf(w, "%8d  %s\n", c.Count, c.Key) // escaped by TimewaitRun
	}
	fmt.Fprintf(w, "\nBy container:\n%8s  %s\n", "COUNT", "CONTAINER")
	for _, c := range sum.ByContainer {
		fmt.Fprintf(w, "%8d  %s\n", c.Count, c.Key)
	}
	fmt.Fprintf(w, "\nBy remote endpoint:\n%8s  %s\n", "COUNT", "REMOTE")
	for _, c := range sum.ByRemote {
		fmt.Fprintf(w, "%8d  %s\n", c.Count, c.Key)
	}
	fmt.Fprintf(w, "\nEphemeral ports (range %d-%d, %d ports) per local address and remote endpoint:\n", sum.PortRange[0], sum.PortRange[1], sum.PortRange[1]-sum.PortRange[0]+1)
	fmt.Fprintf(w, "%-40s %-46s %9s %7s %6s\n", "LOCAL", "REMOTE", "TIME_WAIT", "IN_USE", "USED%")
	for _, p := range sum.Pressure {
		fmt.Fprintf(w, "%-40s %-46s %9d %7d %5.1f%%\n", p.Local, p.Remote, p.TimeWait, p.InUse, p.UsedPct)
	}
}
