// Package docgen writes what is generated from bpfnetstat's command tree at
// build time: the manual pages (section 8, one for bpfnetstat and one per
// subcommand, by cobra's doc generator) with the sections a command's help
// text has no room for (the netstat options, exit statuses, escaping, the
// JSON schema, environment), and the shell completion scripts of
// bpfnetstat and of the netstat drop-in.
//
// It reads the tree through internal/cli and the option table through
// internal/netstat; only the generator program (scripts/gendocs) imports
// it, so the bpfnetstat binary never links cobra's doc generator.
package docgen

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/bpfnetstat/bpfnetstat/internal/cli"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/netstat"
)

// Section is the manual section of every page: bpfnetstat is a system
// administration tool (its tracer needs root), as netstat(8) is.
const Section = "8"

func env() cmdutil.Env {
	return cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
}

// WriteManPages writes bpfnetstat.8 and bpfnetstat-COMMAND.8 for every
// available command into dir. The date is date (a reproducible build passes
// the last commit's), the source names bpfnetstat and its version.
func WriteManPages(dir string, date time.Time) error {
	root := cli.CommandTree("bpfnetstat", env())
	decorate(root)
	header := &doc.GenManHeader{
		Section: Section,
		Date:    &date,
		Source:  "bpfnetstat " + cmdutil.Version,
		Manual:  "System Administration",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return doc.GenManTreeFromOpts(root, doc.GenManTreeOptions{Header: header, Path: dir, CommandSeparator: "-"})
}

// WriteCompletions writes the completion scripts of bpfnetstat and of the
// netstat drop-in, in the layout the Makefile installs from:
// bash/NAME, zsh/_NAME, fish/NAME.fish.
func WriteCompletions(dir string) error {
	for _, name := range []string{"bpfnetstat", "netstat"} {
		root := cli.CommandTree(name, env())
		for _, f := range []struct {
			path string
			gen  func(io.Writer) error
		}{
			{filepath.Join("bash", name), func(w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
			{filepath.Join("zsh", "_"+name), root.GenZshCompletion},
			{filepath.Join("fish", name+".fish"), func(w io.Writer) error { return root.GenFishCompletion(w, true) }},
		} {
			var b bytes.Buffer
			if err := f.gen(&b); err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
			p := filepath.Join(dir, f.path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// decorate turns the tree's help texts into manual pages: the root gets the
// netstat options and the shared sections, every command its exit statuses
// and the pointers that apply to it. The completion-only flags of the root
// are hidden from cobra's OPTIONS section, which would print them as
// --tcp=false; the NETSTAT OPTIONS section lists them instead, -4 and -6
// included.
func decorate(root *cobra.Command) {
	root.DisableAutoGenTag = true
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })
	root.Long = rootDescription + "\n\n" + netstatOptions() + families + rootExit + escaping + jsonSection + environment
	root.Example = rootExample
	for _, c := range root.Commands() {
		c.DisableAutoGenTag = true
		c.Long = markdownSafe(c.Long)
		switch c.Name() {
		case "trace", "life", "watch", "timewait":
			c.Long += "\n\n" + tracerExit + escaping + jsonSection
		case "doctor":
			c.Long += "\n\n" + doctorExit
		case "completion":
			c.Long += "\n\n" + plainExit + completionFiles
			for _, s := range c.Commands() {
				s.DisableAutoGenTag = true
			}
		default:
			c.Long += "\n\n" + plainExit
		}
	}
}

// markdownSafe escapes what the help texts mean literally but markdown
// would take as emphasis.
func markdownSafe(s string) string {
	return strings.NewReplacer("*", `\*`, "_", `\_`).Replace(s)
}

// netstatOptions is the NETSTAT OPTIONS section, grouped as the usage text
// groups them, from the table the completion uses.
func netstatOptions() string {
	titles := []struct{ key, title string }{
		{"mode", "Modes (at most one of -r, -i, -s, -M)"},
		{"format", "Output"},
		{"socket", "Socket kinds (default: all)"},
		{"family", "Address families"},
		{"bpfnetstat", "bpfnetstat's additions"},
	}
	var b strings.Builder
	b.WriteString("# NETSTAT OPTIONS\n\n" +
		"The classic options are parsed as net-tools 2.10's getopt_long parses them: short options " +
		"bundle (**-tulpn**), long options take unique prefixes (**--prog**), words that are not options " +
		"are ignored and **--** ends the options.\n\n")
	for _, t := range titles {
		fmt.Fprintf(&b, "## %s\n\n", t.title)
		for _, o := range netstat.Options() {
			if o.Section != t.key {
				continue
			}
			var names []string
			if o.Short != "" {
				n := `**-` + o.Short + `**`
				if o.Arg != "" {
					n += " *" + o.Arg + "*"
				}
				names = append(names, n)
			}
			if o.Long != "" {
				n := `**--` + o.Long + `**`
				if o.Arg != "" {
					n += "=*" + o.Arg + "*"
				}
				names = append(names, n)
			}
			fmt.Fprintf(&b, "%s\n: %s\n\n", strings.Join(names, ", "), markdownSafe(o.Usage))
		}
	}
	return b.String()
}

func init() {
	var b strings.Builder
	b.WriteString("# FAMILIES\n\n**-A** and **--protocol** take a comma-separated list of these names:\n\n")
	for _, f := range netstat.Families() {
		fmt.Fprintf(&b, "**%s**\n: %s\n\n", f[0], f[1])
	}
	families = b.String()
}

var families string

const rootDescription = `Invoked as **netstat** (a symlink), bpfnetstat is the classic tool of net-tools 2.10: same options, ` +
	`same output bytes, same messages and exit statuses; it then loads nothing into the kernel. ` +
	`Invoked as **bpfnetstat**, the same options print the same listings (messages then name bpfnetstat), ` +
	`every view takes **--json**, **-c** shows the owner of TIME\_WAIT sockets and **--recent** the connections ` +
	`that opened and closed between two refreshes; and the subcommands add what netstat cannot do, from an eBPF ` +
	`tracer that names the exact process behind every TCP connection: **trace**, **life**, **watch**, ` +
	`**timewait** and **doctor** (see SEE ALSO). They need root (CAP\_BPF and CAP\_PERFMON) and a kernel with BTF; ` +
	`without them they say why in one line and fall back to polling /proc.

Run **bpfnetstat -h** for netstat's usage text with the subcommand list, **bpfnetstat help** *command* for a ` +
	`subcommand's options.`

const rootExit = `# EXIT STATUS

As net-tools 2.10:

**0**
: a listing, **-h**, **-V**

**1**
: an unknown address family (**-A**), **-Z**, an explicitly requested socket kind this system lacks, ` +
	`**-s** with a family list other than inet or inet6, **-M** without NAT information, a missing route file

**3**
: a bad option, **-?**, two of **-r**, **-i**, **-s**, **-M**, **-r** with a family that has no routing table

**255**
: a /proc file that exists but cannot be read

With **-c**, the program runs until a signal ends it.

`

const tracerExit = `# EXIT STATUS

**0**
: ended by SIGINT (Ctrl-C), SIGTERM, **--duration**, **--count** or **q**; also when the tracer could not ` +
	`attach and /proc polling stood in for it (said in one line on stderr)

**1**
: a bad flag or argument, or an error, printed on stderr as *bpfnetstat: message*

`

const doctorExit = `# EXIT STATUS

**0**
: the tracer can run here

**1**
: it cannot (the report says why and what would fix it), or a bad flag

`

const plainExit = `# EXIT STATUS

**0**
: success

**1**
: a bad flag or argument, or an error, printed on stderr as *bpfnetstat: message*

`

const escaping = `# ESCAPING

Program names and UNIX socket paths are bytes that any process or peer controls. bpfnetstat replaces each C0 ` +
	`control byte (0x00-0x1f), DEL (0x7f), each byte of a C1 control character (U+0080-U+009F) and each byte ` +
	`that is not valid UTF-8 by **\\xHH** (lower-case hex), so no name can drive the terminal. Everything else, ` +
	`the backslash and printable UTF-8 included, is printed as is, so ordinary names are byte-identical to ` +
	`netstat's. The 19-byte cut of the PID/Program name column is made before escaping. JSON output carries the ` +
	`same text in JSON's own escaping.

`

const jsonSection = `# JSON

**--json** prints a snapshot as one JSON array and a stream (trace, life, watch, timewait) as one object per ` +
	`line. All outputs share one schema: the same concept has the same snake\_case name everywhere, and a list ` +
	`is [] when empty, never null. Every field is described in **json.md** and, as a JSON Schema (draft ` +
	`2020-12), in **bpfnetstat.schema.json**, installed in share/doc/bpfnetstat (/usr/share/doc/bpfnetstat from ` +
	`the Debian package; docs/ in the source tree).

`

const environment = `# ENVIRONMENT

**BPFNETSTAT\_OWNERS**=**iter**|**proc**
: how **-p** finds socket owners: the kernel's task\_file iterator (as root, with many files open) or ` +
	`netstat's walk of /proc/*/fd

**BPFNETSTAT\_SOURCE**=**proc**
: read everything from /proc as netstat does, instead of sock\_diag for TCP

**POSIXLY\_CORRECT**
: option parsing stops at the first word that is not an option, as in netstat

`

const rootExample = `  # listening TCP and UDP sockets with their programs
  bpfnetstat -tulpn
  # the same as JSON
  bpfnetstat -tulpn --json
  # every second, TIME_WAIT rows with their owners and the connections in between
  bpfnetstat -tanpc --recent
  # who opens connections, live (root)
  bpfnetstat trace
  # one line per finished connection, with bytes and duration, for 10 seconds
  bpfnetstat life --duration 10s
  # as the classic tool
  ln -s bpfnetstat /usr/local/bin/netstat && netstat -rn`

const completionFiles = `# FILES

**make install** and the Debian package install the scripts for bpfnetstat in ` +
	`share/bash-completion/completions/bpfnetstat, share/zsh/site-functions/\_bpfnetstat and ` +
	`share/fish/vendor\_completions.d/bpfnetstat.fish; with the netstat symlink (**INSTALL\_NETSTAT=1**) ` +
	`the same for netstat, which completes the netstat options.

`
