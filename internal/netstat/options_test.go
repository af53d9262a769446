package netstat

import (
	"sort"
	"strings"
	"testing"
)

// TestOptionsCoverTheParser: the completion and manual table names every
// option the parser accepts, and nothing it does not, so that a new option
// cannot be parsed without being offered, nor offered without being parsed.
func TestOptionsCoverTheParser(t *testing.T) {
	left := map[string]bool{"-d": true, "-?": true, "--tcpip": true} // accepted, deliberately not offered
	var parsed []string
	for i := 0; i < len(netstatShort); i++ {
		if netstatShort[i] != ':' {
			parsed = append(parsed, "-"+netstatShort[i:i+1])
		}
	}
	seen := map[string]bool{}
	for _, o := range append(netstatLong, longOpt{name: "json"}, longOpt{name: "recent"}) {
		if !seen[o.name] {
			seen[o.name] = true
			parsed = append(parsed, "--"+o.name)
		}
	}
	var offered []string
	for _, o := range Options() {
		if o.Short == "" && o.Long == "" || o.Usage == "" || o.Section == "" {
			t.Errorf("incomplete option %+v", o)
		}
		if o.Short != "" {
			offered = append(offered, "-"+o.Short)
		}
		if o.Long != "" {
			offered = append(offered, "--"+o.Long)
		}
		if (o.Arg != "") != (o.Short == "A") {
			t.Errorf("%+v: only -A takes an argument", o)
		}
	}
	var want []string
	for _, p := range parsed {
		if !left[p] {
			want = append(want, p)
		}
	}
	sort.Strings(want)
	sort.Strings(offered)
	if strings.Join(want, " ") != strings.Join(offered, " ") {
		t.Errorf("offered options differ from the parser's\n got: %v\nwant: %v", offered, want)
	}
	// Every short option with a long one must be the same option in the
	// parser's long table.
	for _, o := range Options() {
		if o.Short == "" || o.Long == "" || o.Long == "unix" {
			continue
		}
		p := parseLong("netstat", o.Long, netstatLong)
		if p.val != rune(o.Short[0]) {
			t.Errorf("--%s parses as %q, the table says -%s", o.Long, p.val, o.Short)
		}
	}
}

// TestFamiliesAreTheParsersAliases: -A completion offers exactly the names
// afTrans accepts.
func TestFamiliesAreTheParsersAliases(t *testing.T) {
	var got, want []string
	for _, f := range Families() {
		got = append(got, f[0])
		if f[1] == "" {
			t.Errorf("family %s has no meaning", f[0])
		}
	}
	for _, a := range afAliases {
		want = append(want, a.alias)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("families %v, parser accepts %v", got, want)
	}
}
