package netstat

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/names"
	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// runMasquerade is netstat -M.
//
// netstat reads /proc/net/ip_masquerade, which only Linux 2.2 had; on any
// later kernel it says "no support for `ip_masquerade'" and exits 1.
// bpfnetstat does the same when that file is missing and the kernel shows
// no NAT-ed connection, and reads the file exactly as netstat would when it
// exists. Otherwise (the one place where it shows more than net-tools) it
// lists the connection tracking table's NAT-ed connections in netstat's -M
// columns: from ctnetlink on the live system (status bits and TCP sequence
// adjustment included), else from ROOT/net/nf_conntrack.
//
// With -c the listing repeats until a round fails; a later round with no
// NAT-ed connection prints nothing, as netstat does for an empty
// ip_masquerade file.
func runMasquerade(o *classicOptions, env cmdutil.Env) int {
	m := &masqRun{
		o:   o,
		env: env,
		fs:  snapshot.NewFS(env.ProcRoot),
		out: bufio.NewWriterSize(env.Stdout, 64<<10),
	}
	m.render = output.NewClassic(output.ClassicOptions{
		NumericHosts: o.numHost,
		NumericPorts: o.numPort,
		NumericUsers: o.numUser,
		NumericHost6: names.NumericHost6,
	}, names.New(), nil)
	return repeat(o, env, func(round int) int {
		rc := m.once(round)
		m.out.Flush()
		return rc
	})
}

type masqRun struct {
	o      *classicOptions
	env    cmdutil.Env
	fs     snapshot.FS
	out    *bufio.Writer
	render *output.Classic
}

// once is one round of ip_masq_info, with conntrack in place of the
// missing file.
func (m *masqRun) once(round int) int {
	t, err := m.fs.ReadMasquerade()
	var me *snapshot.MasqError
	switch {
	case err == nil:
	case errors.As(err, &me):
		fmt.Fprintln(m.env.Stderr, me.Error())
		return -1
	case !errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(m.env.Stderr, "/proc/net/ip_masquerade: %s\n", strerror(err))
		return -1
	default:
		var ok bool
		t, ok = m.conntrack()
		if !ok || (round == 0 && len(t.Entries) == 0 && !m.o.json) {
			fmt.Fprintf(m.env.Stderr, "%s: no support for `ip_masquerade' on this system.\n", m.o.name)
			return 1
		}
	}
	extend := m.o.exp > 1
	if m.o.json {
		arr := output.NewJSONArray(m.out)
		for i := range t.Entries {
			arr.Add(output.NewMasqJSON(&t.Entries[i], t.HasPDelta))
		}
		arr.Close()
		return 0
	}
	if len(t.Entries) == 0 {
		return 0
	}
	m.out.Write(output.MasqHeader(extend))
	var row []byte
	for i := range t.Entries {
		row = m.render.MasqRow(row[:0], &t.Entries[i], extend, t.HasPDelta)
		m.out.Write(row)
	}
	return 0
}

// conntrack collects the NAT-ed connections; ok is false when no
// connection tracking table can be read.
func (m *masqRun) conntrack() (*snapshot.MasqTable, bool) {
	t := &snapshot.MasqTable{}
	add := func(c *snapshot.Conntrack) {
		cc := new(snapshot.Conntrack)
		*cc = *c
		if row, ok := cc.Masq(); ok {
			t.Entries = append(t.Entries, row)
		}
	}
	if m.env.ProcRoot == "/proc" && m.env.Getenv("BPFNETSTAT_SOURCE") != "proc" {
		if err := snapshot.EachConntrackNetlink(add); err == nil {
			t.HasPDelta = true
			return t, true
		}
		t.Entries = nil
	}
	err := m.fs.EachConntrack(func(c *snapshot.Conntrack, bad *snapshot.LineError) {
		if c != nil {
			add(c)
		}
	})
	return t, err == nil
}
