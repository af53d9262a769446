// Command benchrun times commands side by side for
// scripts/bench-snapshot.sh: the wall time and peak RSS of each run, in
// alternating rounds.
//
//	benchrun [-reps 7] [-min-reps 3] [-budget 20s] LABEL=COMMAND ARGS ... ...
//
// Each argument is one command: a label, '=', and the command line split on
// blanks (no quoting). Round 1 runs every command once, in the order
// given; its time also sets how many runs the command gets in all:
// budget / time, at least -min-reps and at most -reps (so a 10 s command
// gets 3 runs and a 0.1 s one 7). Later rounds run, again in order, the
// commands that still have runs to go. The first run counts: callers warm
// the page cache before (bench-snapshot.sh runs every command once in its
// output checks).
//
// Peak RSS is the command's own: its VmHWM, read from /proc/PID/status
// when it exits (a ptrace exit stop, PTRACE_O_TRACEEXIT, on its main
// thread: the memory is still there). The ru_maxrss of wait4 is also
// reported, but it is not the command's alone: exec records the RSS high
// water mark of the memory it replaces, and Go spawns children with
// CLONE_VM, so that is benchrun's own (a few MiB, more than netstat needs);
// /usr/bin/time has the same floor at its own size (about 1 MiB). The
// tracing costs a few microseconds per run: a stop after exec, one at
// exit, and one per signal sent to the main thread.
//
// Each run's stdin and stdout are /dev/null and its stderr a temporary
// file, printed if the command fails: any exit status but 0 is an error
// (exit 1). The wall time runs from before the fork to the reaping. The
// result is one line per command on stdout:
//
//	LABEL runs=R median_ns=T min_ns=T max_ns=T rss_kb=K maxrss_kb=K rumaxrss_kb=K
//
// with rss_kb the median and maxrss_kb the largest VmHWM over the runs, and
// rumaxrss_kb the largest wait4 ru_maxrss.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type command struct {
	label string
	argv  []string
	reps  int
	times []time.Duration
	rss   []int64 // VmHWM, KiB
	rumax int64   // largest ru_maxrss, KiB
}

func main() {
	reps := flag.Int("reps", 7, "runs per command at most")
	minReps := flag.Int("min-reps", 3, "runs per command at least")
	budget := flag.Duration("budget", 20*time.Second, "time per command: fewer runs for slow commands")
	verbose := flag.Bool("v", false, "print each run on stderr")
	flag.Parse()
	if flag.NArg() == 0 || *minReps < 1 || *reps < *minReps {
		fmt.Fprintln(os.Stderr, "usage: benchrun [-reps N] [-min-reps N] [-budget D] [-v] LABEL=COMMAND ARGS ...")
		os.Exit(2)
	}
	var cmds []*command
	for _, a := range flag.Args() {
		label, line, ok := strings.Cut(a, "=")
		argv := strings.Fields(line)
		if !ok || label == "" || len(argv) == 0 {
			fmt.Fprintf(os.Stderr, "benchrun: bad command %q (want LABEL=COMMAND ARGS)\n", a)
			os.Exit(2)
		}
		cmds = append(cmds, &command{label: label, argv: argv, reps: *reps})
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fail(err)
	}
	errf, err := os.CreateTemp("", "benchrun-stderr-")
	if err != nil {
		fail(err)
	}
	defer os.Remove(errf.Name())
	rounds := 1
	for r := 0; r < rounds; r++ {
		for _, c := range cmds {
			if r >= c.reps {
				continue
			}
			d, rss, rumax, err := runOnce(c.argv, devnull, errf)
			if err != nil {
				os.Remove(errf.Name())
				fail(fmt.Errorf("%s (%s): %w", c.label, strings.Join(c.argv, " "), err))
			}
			c.times = append(c.times, d)
			c.rss = append(c.rss, rss)
			c.rumax = max(c.rumax, rumax)
			if *verbose {
				fmt.Fprintf(os.Stderr, "benchrun: %s run %d: %.2f ms, VmHWM %d KiB, ru_maxrss %d KiB\n", c.label, r+1, float64(d)/1e6, rss, rumax)
			}
			if r == 0 {
				c.reps = max(*minReps, min(*reps, int(*budget/max(d, 1))))
				rounds = max(rounds, c.reps)
			}
		}
	}
	for _, c := range cmds {
		ts := slices.Clone(c.times)
		slices.Sort(ts)
		rs := slices.Clone(c.rss)
		slices.Sort(rs)
		fmt.Printf("%s runs=%d median_ns=%d min_ns=%d max_ns=%d rss_kb=%d maxrss_kb=%d rumaxrss_kb=%d\n",
			c.label, len(ts), int64(median(ts)), int64(ts[0]), int64(ts[len(ts)-1]), median(rs), rs[len(rs)-1], c.rumax)
	}
}

// median of a sorted slice (the mean of the middle two for an even count).
func median[T time.Duration | int64](s []T) T {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// runOnce runs argv traced (see the top), with stdout and stdin on
// /dev/null and stderr into errf, and returns its wall time, VmHWM and
// ru_maxrss (KiB).
func runOnce(argv []string, devnull, errf *os.File) (d time.Duration, hwm, rumax int64, err error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, 0, 0, err
	}
	if err := errf.Truncate(0); err != nil {
		return 0, 0, 0, err
	}
	if _, err := errf.Seek(0, 0); err != nil {
		return 0, 0, 0, err
	}
	// The tracer is the thread that forked the child: every ptrace call
	// must come from it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{devnull.Fd(), devnull.Fd(), errf.Fd()},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, 0, 0, err
	}
	hwm = -1
	first := true
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		if _, err := syscall.Wait4(pid, &ws, syscall.WALL, &ru); err != nil {
			if err == syscall.EINTR {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			return 0, 0, 0, fmt.Errorf("wait4: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			d = time.Since(start)
			if ws.Signaled() || ws.ExitStatus() != 0 {
				msg, _ := os.ReadFile(errf.Name())
				return 0, 0, 0, fmt.Errorf("%v; stderr: %q", ws, msg)
			}
			if hwm < 0 {
				return 0, 0, 0, fmt.Errorf("no exit stop: no VmHWM")
			}
			return d, hwm, ru.Maxrss, nil
		case ws.Stopped():
			sig := ws.StopSignal()
			if first && sig == syscall.SIGTRAP {
				// The stop after exec: ask for the exit stop.
				first = false
				if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT|0x100000 /* PTRACE_O_EXITKILL */); err != nil {
					syscall.Kill(pid, syscall.SIGKILL)
					return 0, 0, 0, fmt.Errorf("ptrace setoptions: %w", err)
				}
				sig = 0
			} else if sig == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT {
				if hwm, err = vmHWM(pid); err != nil {
					syscall.Kill(pid, syscall.SIGKILL)
					return 0, 0, 0, err
				}
				sig = 0
			}
			// Any other stop is a signal for the command: deliver it.
			if err := syscall.PtraceCont(pid, int(sig)); err != nil && err != syscall.ESRCH {
				syscall.Kill(pid, syscall.SIGKILL)
				return 0, 0, 0, fmt.Errorf("ptrace cont: %w", err)
			}
		}
	}
}

// vmHWM reads the VmHWM line (KiB) of /proc/PID/status.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
	os.Exit(1)
}
