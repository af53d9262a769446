package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// StatSection is one titled group of protocol counters ("Ip", "TcpExt",
// "Icmp6", ...) of /proc/net/snmp, /proc/net/netstat, /proc/net/snmp6 or
// /proc/net/sctp/snmp, with its counters in file order.
type StatSection struct {
	Title    string
	Counters []Counter
}

// Counter is one named counter value. Values are what netstat's strtoull
// makes of the text: "-1" is 18446744073709551615, a missing or non-numeric
// value is 0.
type Counter struct {
	Name  string
	Value uint64
}

// ErrStatsFormat is wrapped by every StatsFormatError.
var ErrStatsFormat = errors.New("no ':' in a header/value line pair")

// StatsFormatError is a line pair of /proc/net/snmp or /proc/net/netstat
// without the ':' after the title; netstat stops reading that file there
// ("Problem while parsing /proc/net/snmp"). It formats like
//
//	/proc/net/snmp:7: "Ip 1 2 3": no ':' in a header/value line pair
type StatsFormatError struct {
	Path string // file read
	Line int    // 1-based number of the line without ':'
	Text string // that line, without its newline
}

func (e *StatsFormatError) Error() string {
	return fmt.Sprintf("%s:%d: %q: %v", e.Path, e.Line, e.Text, ErrStatsFormat)
}

// Unwrap returns ErrStatsFormat.
func (e *StatsFormatError) Unwrap() error { return ErrStatsFormat }

// ReadSNMP reads /proc/net/snmp (ROOT/net/snmp): pairs of lines
// "Title: name1 name2 ..." / "Title: value1 value2 ...", one section per
// pair, read the way net-tools' statistics.c reads them. Opening errors are
// returned as they are (netstat reports a missing snmp file). On a format
// error or a read error the sections before it are returned with the error.
func (fs FS) ReadSNMP() ([]StatSection, error) {
	return fs.readPairs("snmp")
}

// ReadNetstat reads /proc/net/netstat (ROOT/net/netstat), which has the
// format of /proc/net/snmp ("TcpExt", "IpExt", "MPTcpExt"). A missing file
// is an empty result, as netstat treats it.
func (fs FS) ReadNetstat() ([]StatSection, error) {
	secs, err := fs.readPairs("netstat")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return secs, err
}

func (fs FS) readPairs(file string) ([]StatSection, error) {
	path := fs.Path("net", file)
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSNMP(f, path)
}

// ReadSNMP6 reads /proc/net/snmp6 (ROOT/net/snmp6): one "Name value" per
// line, grouped into sections the way netstat groups them (see parseSNMP6).
// Opening errors are returned as they are.
func (fs FS) ReadSNMP6() ([]StatSection, error) {
	path := fs.Path("net", "snmp6")
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSNMP6(f, path)
}

// ReadSCTPSNMP reads /proc/net/sctp/snmp (ROOT/net/sctp/snmp), one
// "Name value" per line, as the single section "Sctp". It returns nil, nil
// when the file does not exist (a kernel without SCTP).
func (fs FS) ReadSCTPSNMP() (*StatSection, error) {
	path := fs.Path("net", "sctp", "snmp")
	f, err := OpenFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec, err := parseNameValues(f, path)
	return &sec, err
}

// getlineReader hands out whole lines like glibc's getline, each cut at its
// first NUL as the C string functions that look at it see it.
type getlineReader struct {
	br   *bufio.Reader
	line int
}

func (g *getlineReader) next() ([]byte, error) {
	b, err := g.br.ReadBytes('\n')
	if len(b) == 0 {
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	g.line++
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b, nil
}

// parseSNMP parses /proc/net/snmp or /proc/net/netstat text read from path
// (used in errors only), following statistics.c's process_fd:
//
//   - a line starting with '\n' is skipped where a pair would start;
//   - a title line without a partner line ends the file silently;
//   - either line of a pair without ':' ends it with a StatsFormatError;
//   - the title is the text before the first ':' of the first line; the
//     names after it are separated by spaces, tabs and newlines; each name
//     takes the next value of the second line as strtoull reads it (0
//     where there is no number left, and then no more values).
func parseSNMP(r io.Reader, path string) ([]StatSection, error) {
	g := &getlineReader{br: bufio.NewReader(r)}
	var secs []StatSection
	for {
		names, err := g.next()
		if err == io.EOF {
			return secs, nil
		}
		if err != nil {
			return secs, readError(path, err)
		}
		if len(names) > 0 && names[0] == '\n' {
			continue
		}
		first := g.line
		values, err := g.next()
		if err == io.EOF {
			return secs, nil
		}
		if err != nil {
			return secs, readError(path, err)
		}
		sp := bytes.IndexByte(names, ':')
		np := bytes.IndexByte(values, ':')
		if sp < 0 || np < 0 {
			line, text := first, names
			if sp >= 0 {
				line, text = g.line, values
			}
			return secs, &StatsFormatError{Path: path, Line: line, Text: string(bytes.TrimSuffix(text, []byte("\n")))}
		}
		sec := StatSection{Title: string(names[:sp])}
		i, j := sp+1, np+1
		for {
			i = skipSet(names, i)
			j = skipSet(values, j)
			k := i
			for k < len(names) && !inSet(names[k]) {
				k++
			}
			if k > i {
				v, end, ok := strtoull(values, j)
				if ok {
					j = end
				}
				sec.Counters = append(sec.Counters, Counter{Name: string(names[i:k]), Value: v})
			}
			if k >= len(names) {
				break
			}
			i = k + 1
		}
		secs = append(secs, sec)
	}
}

// inSet reports whether c is one of the " \t\n" that statistics.c passes to
// strspn and strcspn.
func inSet(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func skipSet(b []byte, i int) int {
	for i < len(b) && inSet(b[i]) {
		i++
	}
	return i
}

// strtoull is strtoull(b+i, &end, 10): ok is false when there is no number,
// and then the caller's pointer does not move.
func strtoull(b []byte, i int) (v uint64, end int, ok bool) {
	u, _, end, ok := scanDec(b, i)
	return u, end, ok
}

// snmp6Chunk is what statistics.c's fgets(buf, 1024, f) reads at most from
// snmp6 and sctp/snmp: longer lines reach the parser in pieces.
const snmp6Chunk = 1024 - 1

// snmp6Format is process6_fd's sscanf format.
var snmp6Format = mustScanf("%s %llu")

// parseSNMP6 parses /proc/net/snmp6 text read from path (used in errors
// only), following statistics.c's process6_fd: each fgets piece is read with
// sscanf("%s %llu"). A piece with no name keeps the previous name and value
// (netstat prints that counter again); a name without a number keeps the
// previous value. The section title is the name up to and including its
// first '6' ("Icmp6InMsgs" -> "Icmp6"); a new section starts at the first
// line and whenever the current title does not occur anywhere in the name.
func parseSNMP6(r io.Reader, path string) ([]StatSection, error) {
	c := newFgetsReader(r, 4096)
	var secs []StatSection
	var name []byte
	var val uint64
	title := ""
	for {
		b, err := c.next(snmp6Chunk)
		if err == io.EOF {
			return secs, nil
		}
		if err != nil {
			return secs, readError(path, err)
		}
		// The values sscanf does not store keep the previous line's.
		var vals [2]scanVal
		n, _ := cScanf(b, 0, snmp6Format, vals[:])
		if n >= 1 {
			name = append(name[:0], vals[0].str...)
		}
		if n >= 2 {
			val = vals[1].num
		}
		if len(secs) == 0 || !bytes.Contains(name, []byte(title)) {
			title = snmp6Title(name)
			secs = append(secs, StatSection{Title: title})
		}
		sec := &secs[len(secs)-1]
		sec.Counters = append(sec.Counters, Counter{Name: string(name), Value: val})
	}
}

// snmp6Title is statistics.c's cpytitle: the name up to and including its
// first '6', or all of it.
func snmp6Title(name []byte) string {
	if i := bytes.IndexByte(name, '6'); i >= 0 {
		return string(name[:i+1])
	}
	return string(name)
}

// parseNameValues parses /proc/net/sctp/snmp text (one "Name value" per
// line) read from path, following statistics.c's process_fd2: the name ends
// at the first space, tab or newline; a line with nothing after it is
// skipped; the value is strtoul's.
func parseNameValues(r io.Reader, path string) (StatSection, error) {
	c := newFgetsReader(r, 4096)
	sec := StatSection{Title: "Sctp"}
	for {
		b, err := c.next(snmp6Chunk)
		if err == io.EOF {
			return sec, nil
		}
		if err != nil {
			return sec, readError(path, err)
		}
		k := 0
		for k < len(b) && !inSet(b[k]) {
			k++
		}
		if k == len(b) {
			// No separator: netstat reads past its string here; there is
			// no value to take.
			continue
		}
		j := skipSet(b, k+1)
		if j == len(b) {
			continue
		}
		v, _, _ := strtoull(b, j)
		sec.Counters = append(sec.Counters, Counter{Name: string(b[:k]), Value: v})
	}
}
