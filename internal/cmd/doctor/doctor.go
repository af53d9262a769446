// Package doctor is the doctor subcommand: which eBPF hooks attach on
// this kernel, which do not and why, the fix for each, the PID namespace
// and whether the -p owner iterator loads; --stats measures ns per event.
//
// It is a command package: only the root command imports it, and it must
// never import another command package.
package doctor

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bpfnetstat/bpfnetstat/cgroups"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/owners"
	"github.com/bpfnetstat/bpfnetstat/tracer"
)

// DoctorOptions are doctor's flags.
type DoctorOptions struct {
	Env cmdutil.Env
	// Stats measures the programs' run time for this long (0: not at all).
	Stats time.Duration
	// skipAccept attaches no accept hook (tests of the degraded report).
	skipAccept bool
}

const (
	doctorLong = "doctor loads and attaches every eBPF hook bpfnetstat can use, the fallbacks " +
		"included, and says for each whether it works here and, when it does not, why and what " +
		"would fix it; then the PID namespace, the cgroup layout (for containers and units), the -p owner iterator and the loss counters."
	doctorExample = `  # what works on this kernel, as root
  bpfnetstat doctor
  # and the BPF cost per event under five seconds of the machine's traffic
  bpfnetstat doctor --stats 5s`
)

// NewDoctorCmd is the doctor subcommand; runF, when not nil, replaces
// DoctorRun (tests check the flags with it).
func NewDoctorCmd(env cmdutil.Env, runF func(*DoctorOptions) error) *cobra.Command {
	o := &DoctorOptions{Env: env}
	cmd := &cobra.Command{
		Use:     "doctor",
		Short:   "say which eBPF hooks attach here, which do not and why, and how to fix them",
		Long:    doctorLong,
		Example: doctorExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.CheckTimeout("stats", o.Stats); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return DoctorRun(o)
		},
	}
	cmd.Flags().DurationVar(&o.Stats, "stats", 0, "also measure BPF run time (ns per event) for this long")
	cmdutil.Allowed(cmd.Flags(), "stats", cmdutil.WantTimeout)
	cmd.SetFlagErrorFunc(cmdutil.FlagError)
	return cmd
}

// DoctorRun probes everything and prints the report; it fails (exit 1)
// when the tracer cannot run.
func DoctorRun(o *DoctorOptions) error {
	env, stats := o.Env, o.Stats
	out := env.Stdout
	fmt.Fprintf(out, "euid: %d\n", env.Geteuid())
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		fmt.Fprintf(out, "BTF: missing (/sys/kernel/btf/vmlinux): tp_btf hooks cannot work; fix: a kernel with CONFIG_DEBUG_INFO_BTF\n")
	} else {
		fmt.Fprintf(out, "BTF: /sys/kernel/btf/vmlinux\n")
	}
	if _, err := os.Stat("/sys/kernel/tracing/events"); err != nil {
		fmt.Fprintf(out, "tracefs: not mounted at /sys/kernel/tracing (bpfnetstat mounts it when root)\n")
	} else {
		fmt.Fprintf(out, "tracefs: /sys/kernel/tracing\n")
	}
	switch ino, initial, err := tracer.OwnPIDNamespace(); {
	case err != nil:
		fmt.Fprintf(out, "PID namespace: unknown (%v); fix: mount this namespace's /proc\n", err)
	case initial:
		fmt.Fprintf(out, "PID namespace: initial\n")
	default:
		fmt.Fprintf(out, "PID namespace: pid:[%d], not the initial one: the tracer and the -p iterator translate PIDs into it\n", ino)
	}
	reportCgroups(out, env)
	n := 0
	scan := func() error {
		if err := cmdutil.CheckFDs("the -p iterator", cmdutil.IteratorFDs); err != nil {
			return err
		}
		return tracer.ScanSocketFDs(func(int32, uint64) { n++ })
	}
	if err := scan(); err != nil {
		why := err.Error()
		if env.Geteuid() != 0 {
			why = "not root"
		}
		fmt.Fprintf(out, "owner scan (-p): iter/task_file unavailable (%s); -p walks /proc/*/fd, as netstat does\n", why)
	} else {
		fmt.Fprintf(out, "owner scan (-p): iter/task_file works (%d socket descriptors); used as root from %d open files (%d now)\n", n, owners.IteratorMinFiles, owners.OpenFiles())
	}
	tr, err := cmdutil.OpenTracer(tracer.Config{NetNS: 0, RunStats: stats > 0, ProbeAll: true, SkipAccept: o.skipAccept})
	hooks := tracer.HooksOf(err)
	if tr != nil {
		hooks = tr.Hooks
	}
	if hooks == nil {
		fmt.Fprintf(out, "tracer: cannot load: %v\nfix: %s\n", err, cmdutil.WhyNoBPF(env, err))
		return cmdutil.ExitError{Code: 1}
	}
	defer tr.Close()
	fmt.Fprintf(out, "%-8s %-40s %s\n", "ROLE", "HOOK", "RESULT")
	for _, h := range hooks {
		res := "attached"
		switch {
		case h.NotNeeded != "":
			res = h.NotNeeded
		case h.Skipped && h.Works:
			res = "works (fallback, not used)"
		case h.Skipped && h.Err != nil:
			res = fmt.Sprintf("fallback, fails: %v; fix: %s", h.Err, h.Fix)
		case h.Skipped:
			res = "fallback, not probed"
		case !h.Attached:
			res = fmt.Sprintf("failed: %v; fix: %s", h.Err, h.Fix)
		}
		fmt.Fprintf(out, "%-8s %-40s %s\n", h.Role, h.Name, res)
	}
	// A role without a hook still traces, but some owners are then no
	// longer exact: say which.
	for _, d := range tracer.Degraded(hooks) {
		fmt.Fprintf(out, "degraded: %s; fix: %s\n", d, d.Fix)
	}
	if err != nil {
		fmt.Fprintf(out, "tracer: unusable: %v\n", err)
		return cmdutil.ExitError{Code: 1}
	}
	fmt.Fprintf(out, "sweep of kept socket states (ends no program saw): %s\n", tr.SweepStatus())
	if stats > 0 {
		time.Sleep(stats)
		fmt.Fprintf(out, "%-16s %12s %14s %10s %s\n", "PROGRAM", "RUNS", "RUNTIME", "NS/RUN", "RECURSION_MISSES")
		for _, s := range tr.Stats() {
			per := 0.0
			if s.RunCount > 0 {
				per = float64(s.RunTime.Nanoseconds()) / float64(s.RunCount)
			}
			fmt.Fprintf(out, "%-16s %12d %14v %10.1f %d\n", s.Name, s.RunCount, s.RunTime, per, s.RecursionMisses)
		}
	}
	c, cerr := tr.Counters()
	if cerr == nil {
		fmt.Fprintf(out, "events: %d, lost: %d (ring buffer full), %d (socket storage), %d (accept unresolved), %d (kernel recursion); nested events recovered: %d; ends unseen: %d\n",
			c.Events, c.RingFull, c.StorageFail, c.AcceptMiss, c.RecursionLost, c.Recovered, c.EndUnseen)
	}
	return nil
}

// reportCgroups says how owners get their container, pod and unit: the
// cgroup layout, where cgroup2 is mounted and how ids become paths.
func reportCgroups(out io.Writer, env cmdutil.Env) {
	h, err := cgroups.FindHostHierarchy()
	if err != nil {
		fmt.Fprintf(out, "cgroups: unknown (%v): connections carry no container or unit\n", err)
		return
	}
	mount := h.Mount
	if mount == "" {
		mount = "none"
	}
	n := cgroups.NewNamer(h, env.ProcRoot)
	defer n.Close()
	fmt.Fprintf(out, "cgroups: layout %s, cgroup2 at %s; identity: %s\n", h.Layout, mount, n.Method())
}
