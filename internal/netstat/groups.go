package netstat

import (
	"fmt"

	"github.com/bpfnetstat/bpfnetstat/output"
	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// groupsBlock prints netstat -g's multicast group table inside the socket
// listing (netstat's igmp_info, after its three header lines): the IPv4
// memberships (/proc/net/igmp) if family inet is on, then the IPv6 ones
// (/proc/net/igmp6) if inet6 is. A missing igmp file is "no support"
// (status 1 when -g was given without a family option); a missing igmp6
// file is skipped silently.
//
// netstat parses both files with one set of static variables and never
// resets them, so from the second -c round on it reads the IPv4 file as
// an igmp6 file and prints garbage (§8.1 of the spec). bpfnetstat reads
// every round afresh and prints the same correct table each time.
func (r *socketRun) groupsBlock() int {
	o := r.o
	r.text(output.GroupsHeader())
	gr := &snapshot.GroupReader{}
	var row []byte
	fn := func(g *snapshot.Group, bad *snapshot.GroupLineError) {
		if bad != nil {
			kind := "igmp"
			if bad.IPv6 {
				kind = "igmp6"
			}
			fmt.Fprintf(r.env.Stderr, "warning, got bogus %s line %d.\n", kind, bad.Index)
			return
		}
		if r.jsonw != nil {
			r.jsonw.Group(g)
			return
		}
		row = r.render.GroupRow(row[:0], g)
		r.out.Write(row)
	}
	rc := 0
	if o.arg == 0 || o.inet > 0 {
		if err := gr.Each(r.fs, snapshot.GroupIGMP, fn); err != nil {
			if rc = r.tableError(err, "igmp", "AF INET (igmp)"); rc < 0 {
				return rc
			}
		}
	}
	if o.arg == 0 || o.inet6 > 0 {
		gr.Each(r.fs, snapshot.GroupIGMP6, fn) // netstat skips a missing igmp6 silently
	}
	return rc
}
