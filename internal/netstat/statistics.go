package netstat

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// runStatistics is netstat -s (net-tools' parsesnmp and parsesnmp6). It
// prints once whatever -c says, and exits 0 even when a file is missing;
// only a family list other than exactly inet or inet6 fails (on stdout).
func runStatistics(o *classicOptions, env cmdutil.Env) int {
	af := o.afname
	if af == "" {
		af = "inet"
	}
	if af != "inet" && af != "inet6" {
		fmt.Fprintf(env.Stdout, "netstat: No statistics support for specified address family: %s\n", af)
		return 1
	}
	out := bufio.NewWriterSize(env.Stdout, 16<<10)
	defer out.Flush()
	r := &statsRun{
		env: env,
		fs:  snapshot.NewFS(env.ProcRoot),
		out: out,
		st: output.NewStatistics(output.StatsOptions{
			Raw: o.raw > 0, TCP: o.tcp > 0, UDP: o.udp > 0, SCTP: o.sctp > 0,
		}),
		json: o.json,
	}
	if af == "inet" {
		r.inet()
	} else {
		r.inet6()
	}
	if r.json {
		out.Write(output.StatsJSON(r.sections))
	}
	return 0
}

type statsRun struct {
	env      cmdutil.Env
	fs       snapshot.FS
	out      *bufio.Writer
	st       *output.Statistics
	json     bool
	sections []output.StatSectionJSON
}

// emit prints (or collects for --json) the sections of one file.
func (r *statsRun) emit(file string, tables output.StatTables, secs []snapshot.StatSection) {
	for i := range secs {
		if r.json {
			if r.st.Shown(tables, secs[i].Title) {
				r.sections = append(r.sections, output.StatSectionJSON{
					Section: secs[i].Title, File: file, Counters: output.JSONCounters(secs[i].Counters),
				})
			}
			continue
		}
		r.out.Write(r.st.Section(tables, &secs[i]))
	}
}

// readFailed reports what netstat reports after reading a file: a pair
// without ':' (only parsesnmp says so) or a read error (perror).
func (r *statsRun) readFailed(err error, path string, sayFormat bool) {
	var fe *snapshot.StatsFormatError
	var pe *fs.PathError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		if sayFormat {
			fmt.Fprintf(r.env.Stderr, "Problem while parsing %s\n", path)
		}
	case errors.As(err, &pe):
		fmt.Fprintf(r.env.Stderr, "%s: %s\n", path, strerror(pe.Err))
	default:
		fmt.Fprintf(r.env.Stderr, "%s: %s\n", path, strerror(err))
	}
}

// inet is parsesnmp: /proc/net/snmp (required), /proc/net/netstat and
// /proc/net/sctp/snmp (skipped when they cannot be opened).
func (r *statsRun) inet() {
	secs, err := r.fs.ReadSNMP()
	if isOpenError(err) {
		fmt.Fprintf(r.env.Stderr, "cannot open /proc/net/snmp: %s\n", strerror(err))
		return
	}
	r.emit("snmp", output.StatTablesInet, secs)
	r.readFailed(err, "/proc/net/snmp", true)

	secs, err = r.fs.ReadNetstat()
	if !isOpenError(err) {
		r.emit("netstat", output.StatTablesInet, secs)
		r.readFailed(err, "/proc/net/netstat", true)
	}

	sctp, err := r.fs.ReadSCTPSNMP()
	if sctp != nil && !isOpenError(err) {
		r.emit("sctp/snmp", output.StatTablesInet, []snapshot.StatSection{*sctp})
		r.readFailed(err, "/proc/net/sctp/snmp", false)
	}
}

// inet6 is parsesnmp6: /proc/net/snmp6, then the Tcp pairs of
// /proc/net/snmp (with the IPv4 tables).
func (r *statsRun) inet6() {
	secs, err := r.fs.ReadSNMP6()
	if isOpenError(err) {
		fmt.Fprintf(r.env.Stderr, "cannot open /proc/net/snmp6: %s\n", strerror(err))
		return
	}
	r.emit("snmp6", output.StatTablesInet6, secs)
	r.readFailed(err, "/proc/net/snmp6", false)

	secs, err = r.fs.ReadSNMP()
	if isOpenError(err) {
		fmt.Fprintf(r.env.Stderr, "cannot open /proc/net/snmp: %s\n", strerror(err))
		return
	}
	var tcp []snapshot.StatSection
	for _, s := range secs {
		if strings.HasPrefix(s.Title, "Tcp") {
			tcp = append(tcp, s)
		}
	}
	r.emit("snmp", output.StatTablesInet, tcp)
	// parsesnmp6 ignores process_fd's format error.
	r.readFailed(err, "/proc/net/snmp", false)
}

// isOpenError tells a file that could not be opened from one that failed
// while being read.
func isOpenError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "open"
}
