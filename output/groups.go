package output

import (
	"strings"

	"github.com/bpfnetstat/bpfnetstat/snapshot"
)

// GroupsHeader is the three header lines of netstat -g's table, printed
// whether or not any row follows.
func GroupsHeader() []byte {
	return []byte("IPv6/IPv4 Group Memberships\n" +
		"Interface       RefCnt Group\n" +
		"--------------- ------ ---------------------\n")
}

// GroupRow appends one membership row, "%-15s %-6d %s", to b: the
// interface, the user count and the group's host text (igmp_do_one). The
// group is numeric with NumericHosts, else named by Host4 or Host6.
func (c *Classic) GroupRow(b []byte, g *snapshot.Group) []byte {
	b = appendLeft(b, Escape(g.Iface), 15)
	b = append(b, ' ')
	b = appendLeftInt(b, int64(g.Users), 6)
	b = append(b, ' ')
	b = append(b, Escape(routeCut(c.groupHost(g), 127))...)
	return append(b, '\n')
}

// groupHost is ap->sprint(&sas, flag_not & FLAG_NUM_HOST) on the group.
func (c *Classic) groupHost(g *snapshot.Group) string {
	if g.Family == snapshot.FamilyInet {
		if c.opt.NumericHosts {
			return g.Addr.String()
		}
		return c.names.Host4(g.Addr)
	}
	if c.opt.NumericHosts {
		if c.opt.NumericHost6 != nil {
			return c.opt.NumericHost6(g.Addr)
		}
		return g.Addr.String()
	}
	return c.names.Host6(g.Addr)
}

// GroupJSON is the stable machine form of one multicast membership.
type GroupJSON struct {
	Interface string `json:"iface"`
	RefCnt    int32  `json:"refcnt"`
	Group     string `json:"group"`  // numeric
	Family    string `json:"family"` // inet, inet6
}

// NewGroupJSON is g's JSON form: the interface without the padding the
// kernel's IPv4 file adds, the group numeric.
func NewGroupJSON(g *snapshot.Group) GroupJSON {
	return GroupJSON{
		Interface: Escape(strings.TrimRight(g.Iface, " ")),
		RefCnt:    g.Users,
		Group:     jsonAddr(g.Addr),
		Family:    g.Family.String(),
	}
}

// Group writes one membership into the socket listing's array (netstat
// -g --json, alone or with socket tables): an object with the fields of
// GroupJSON, told apart from sockets by its "group" field.
func (j *JSONWriter) Group(g *snapshot.Group) error {
	return j.arr.Add(NewGroupJSON(g))
}
