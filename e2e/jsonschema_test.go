package e2e

// Every --json output of the real binary against the one schema,
// docs/bpfnetstat.schema.json (draft 2020-12): each object's fields are
// exactly those its definition declares (additionalProperties is false),
// the required ones are there, and every value has its type, range or
// enumerated value. A list is an array, never null.
//
//   - TestJSONSchemaStrict (no root): the compiled schema rejects what it
//     must (an unknown field, a missing one, a wrong type, null for a
//     list), so that a passing TestJSONSchema means something.
//   - TestJSONSchema (root): socket listings, -r, -i, -ie, -s, -g and -M in
//     a namespace with the socket farm, routes of every kind and multicast
//     memberships; trace and life with --duration while loopback
//     connections open and close; watch and timewait. -M with real NAT
//     entries is validated by TestSystemViewsMasquerade.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "docs/bpfnetstat.schema.json"

var (
	schemaOnce sync.Once
	schemaDefs map[string]*jsonschema.Schema
	schemaErr  error
)

// schemaKinds are the output kinds, each a definition in the schema.
var schemaKinds = []string{
	"socket_listing", "groups", "routes", "interfaces", "statistics", "masquerade",
	"trace_line", "life_line", "loss_line", "watch_line", "timewait_line",
}

// outputSchema is the compiled definition of one output kind. Formats
// (date-time, ipv4, ipv6) are asserted, not just annotations.
func outputSchema(t *testing.T, kind string) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			schemaErr = err
			return
		}
		path := filepath.Join(root, schemaFile)
		f, err := os.Open(path)
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = fmt.Errorf("%s: %w", schemaFile, err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		const url = "file:///bpfnetstat.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			schemaErr = err
			return
		}
		schemaDefs = map[string]*jsonschema.Schema{}
		for _, k := range append([]string{""}, schemaKinds...) {
			loc := url
			if k != "" {
				loc += "#/$defs/" + k
			}
			sch, err := c.Compile(loc)
			if err != nil {
				schemaErr = fmt.Errorf("%s: %w", schemaFile, err)
				return
			}
			schemaDefs[k] = sch
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	sch, ok := schemaDefs[kind]
	if !ok {
		t.Fatalf("%s has no definition %q", schemaFile, kind)
	}
	return sch
}

// validateDoc checks one JSON document against kind and returns it decoded.
func validateDoc(t *testing.T, kind, what, doc string) (any, bool) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Errorf("%s: not one JSON document: %v\n%s", what, err, doc)
		return nil, false
	}
	if err := outputSchema(t, kind).Validate(v); err != nil {
		t.Errorf("%s does not validate as %s:\n%v\n%s", what, kind, err, doc)
		return nil, false
	}
	return v, true
}

// validateArray checks a snapshot view's output (one array) and returns
// its elements.
func validateArray(t *testing.T, kind, what, out string) []any {
	t.Helper()
	v, ok := validateDoc(t, kind, what, out)
	if !ok {
		return nil
	}
	arr, _ := v.([]any)
	return arr
}

// validateLines checks a live command's output: one object per line.
func validateLines(t *testing.T, kind, what, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			t.Errorf("%s: line %d is empty", what, i+1)
			continue
		}
		k := kind
		if (kind == "trace_line" || kind == "life_line") && strings.HasPrefix(line, `{"kind":"loss",`) {
			k = "loss_line" // a gap in the stream, where it happened
		}
		if v, ok := validateDoc(t, k, fmt.Sprintf("%s line %d", what, i+1), line); ok {
			objs = append(objs, v.(map[string]any))
		}
	}
	return objs
}

// TestJSONSchemaStrict: the schema rejects each kind of drift it exists to
// catch, and accepts the unchanged objects.
func TestJSONSchemaStrict(t *testing.T) {
	life := `{"time":"2025-01-02T03:04:05.123456789Z","pid":42,"tid":42,"uid":0,"comm":"curl","family":"inet",` +
		`"laddr":"127.0.0.1","lport":40000,"raddr":"127.0.0.1","rport":80,` +
		`"cgroup":"/system.slice/docker-` + strings.Repeat("ab", 32) + `.scope","container_id":"` + strings.Repeat("ab", 32) + `","pod_uid":"","unit":"",` +
		`"direction":"active","tx_bytes":4,"rx_bytes":4,"duration_ms":1.5,"owner_source":"connect","retransmits":0,"srtt_us":30,"cookie":18446744073709551615,"netns":4026531840}`
	sock := `[{"protocol":"tcp","family":"inet6","laddr":"::ffff:127.0.0.1","lport":22,"raddr":"::","rport":0,"state":"LISTEN",` +
		`"recv_q":0,"send_q":128,"uid":0,"user":"root","inode":1234,"pid":1,"program":"sshd","owner_source":"fd",` +
		`"cgroup":"/system.slice/ssh.service","container_id":"","pod_uid":"","unit":"ssh.service",` +
		`"timer":{"name":"off","seconds":0,"retransmits":0,"timeout":0}},` +
		`{"protocol":"unix","family":"unix","state":"LISTENING","inode":5,"refcnt":2,"flags":[],"type":"STREAM","path":"/run/x"},` +
		`{"iface":"lo","refcnt":1,"group":"224.0.0.1","family":"inet"}]`
	tw := `{"time_wait":0,"by_owner":[],"by_remote":[],"by_container":[],"ephemeral_port_range":[32768,60999],"port_pressure":[],"owners_from_tracer":true}`
	loss := `{"kind":"loss","time":"2025-01-02T03:04:10Z","from":"2025-01-02T03:04:05.5Z","to":"2025-01-02T03:04:10Z","lost":1200,` +
		`"ring_buffer_full":1180,"socket_storage":0,"accept_unresolved":0,"kernel_recursion":0,"user_space":0,"table_evictions":20}`
	for _, c := range []struct {
		name, kind, doc string
		ok              bool
	}{
		{"life as printed", "life_line", life, true},
		{"loss as printed", "loss_line", loss, true},
		{"loss of another kind", "loss_line", strings.Replace(loss, `"kind":"loss"`, `"kind":"gap"`, 1), false},
		{"loss without a reason", "loss_line", strings.Replace(loss, `,"table_evictions":20`, ``, 1), false},
		{"a negative loss", "loss_line", strings.Replace(loss, `"lost":1200`, `"lost":-1`, 1), false},
		{"listing as printed", "socket_listing", sock, true},
		{"timewait as printed", "timewait_line", tw, true},
		{"empty listing", "socket_listing", `[]`, true},
		{"an unknown field", "life_line", strings.Replace(life, `"comm"`, `"extra":1,"comm"`, 1), false},
		{"an old name", "socket_listing", strings.Replace(sock, `"laddr"`, `"local_address"`, 1), false},
		{"a required field missing", "life_line", strings.Replace(life, `"rx_bytes":4,`, ``, 1), false},
		{"a string for a number", "life_line", strings.Replace(life, `"lport":40000`, `"lport":"40000"`, 1), false},
		{"a port out of range", "life_line", strings.Replace(life, `"lport":40000`, `"lport":70000`, 1), false},
		{"an address that is none", "life_line", strings.Replace(life, `"raddr":"127.0.0.1"`, `"raddr":"invalid IP"`, 1), false},
		{"a time that is none", "life_line", strings.Replace(life, `"time":"2025-01-02T03:04:05.123456789Z"`, `"time":"03:04:05"`, 1), false},
		{"a state that is none", "socket_listing", strings.Replace(sock, `"LISTEN"`, `"LISTENING!"`, 1), false},
		{"null for a list", "timewait_line", strings.Replace(tw, `"port_pressure":[]`, `"port_pressure":null`, 1), false},
		{"null for a listing", "socket_listing", `null`, false},
		{"an identity field missing", "life_line", strings.Replace(life, `"pod_uid":"",`, ``, 1), false},
		{"a container id that is none", "life_line", strings.Replace(life, `"container_id":"ab`, `"container_id":"xy`, 1), false},
		{"a pod UID that is none", "life_line", strings.Replace(life, `"pod_uid":""`, `"pod_uid":"pod1"`, 1), false},
		{"timewait without by_container", "timewait_line", strings.Replace(tw, `"by_container":[],`, ``, 1), false},
		{"a UNIX socket without flags", "socket_listing", strings.Replace(sock, `"flags":[],`, ``, 1), false},
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = outputSchema(t, c.kind).Validate(v)
		if c.ok && err != nil {
			t.Errorf("%s: rejected: %v", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: accepted:\n%s", c.name, c.doc)
		}
		// The top-level schema (any kind) agrees.
		if err2 := outputSchema(t, "").Validate(v); (err2 == nil) != c.ok {
			t.Errorf("%s: the top-level schema says %v", c.name, err2)
		}
	}
}

// TestJSONSchema runs every --json command of the real binary and
// validates what it prints.
func TestJSONSchema(t *testing.T) {
	requireRoot(t)
	trRequireRoot(t)
	outputSchema(t, "") // a broken schema fails before any namespace is made
	// The socket farm in one namespace, routes and memberships in another
	// (the route setup takes addresses the farm binds).
	s := newScenario(t, scenarioOpts{farm: true})
	sv := newScenario(t, scenarioOpts{setup: routesSetup})
	holdMemberships(t, sv.ns.name)
	b := s.bins

	t.Run("views", func(t *testing.T) {
		for _, c := range []struct {
			// sys runs the case in the routes namespace.
			sys        bool
			args, kind string
			// want is a field=value some element must have ("" when
			// the view may be empty here).
			want string
		}{
			{false, "-tanp --json", "socket_listing", "state=LISTEN"},
			{false, "-tanpe --json", "socket_listing", "protocol=tcp"},
			{false, "-tanpo --json", "socket_listing", "family=inet6"},
			{false, "-uan --json", "socket_listing", "protocol=udp"},
			{false, "-uanpe --json", "socket_listing", "protocol=udp"},
			{false, "-xan --json", "socket_listing", "protocol=unix"},
			{false, "-xanpe --json", "socket_listing", "state=LISTENING"},
			{false, "-wan --json", "socket_listing", "protocol=raw"},
			{false, "-wanpe --json", "socket_listing", "state=RAW"},
			{false, "-an --json", "socket_listing", "protocol=unix"},
			{false, "-anpe --json", "socket_listing", "protocol=tcp"},
			{false, "-lnpe --json", "socket_listing", "state=LISTEN"},
			{true, "-r --json", "routes", "table=fib"},
			{true, "-rn --json", "routes", "family=inet"},
			{true, "-r -6 --json", "routes", "family=inet6"},
			{true, "-rC --json", "routes", ""},
			{true, "-r -A inet,inet6 -C --json", "routes", ""},
			{false, "-i --json", "interfaces", "iface=lo"},
			{false, "-ia --json", "interfaces", "iface=lo"},
			{false, "-ie --json", "interfaces", "hw_type=loop"},
			{true, "-iea --json", "interfaces", "hw_type=ether"},
			{false, "-s --json", "statistics", "section=Tcp"},
			{false, "-s6 --json", "statistics", "file=snmp6"},
			{false, "-st --json", "statistics", "section=TcpExt"},
			{true, "-g --json", "groups", "family=inet6"},
			{true, "-gn --json", "groups", "family=inet"},
			{true, "-tag --json", "socket_listing", "group=ff15::1:4"},
			{false, "-M --json", "masquerade", ""},
			{false, "-Me --json", "masquerade", ""},
		} {
			t.Run(strings.ReplaceAll(c.args, " ", "_"), func(t *testing.T) {
				in := s
				if c.sys {
					in = sv
				}
				r := in.run(t, oursSide, invocation{args: strings.Fields(c.args), bpfnetstat: true})
				if r.status != "exit status 0" || r.stderr != "" {
					t.Fatalf("status %s, stderr %q", r.status, r.stderr)
				}
				arr := validateArray(t, c.kind, "bpfnetstat "+c.args, r.stdout)
				if c.want != "" && !hasField(arr, c.want) {
					t.Errorf("no element with %s:\n%s", c.want, r.stdout)
				}
			})
		}
	})

	t.Run("trace_life", func(t *testing.T) {
		enter := []string{"ip", "netns", "exec", s.ns.name}
		life := trStartTracer(t, enter, b.ours, "life", "--json", "--duration", "6s")
		trace := trStartTracer(t, enter, b.ours, "trace", "--json", "--duration", "6s")
		pid := wtTimeWaits(t, s.ns.name, 9095, 4)
		for _, tr := range []*trTracer{life, trace} {
			select {
			case <-tr.exited:
			case <-time.After(trStopTimeout):
				t.Fatalf("bpfnetstat %s --duration 6s still runs after %v", tr.name, trStopTimeout)
			}
			if tr.waitErr != nil {
				t.Fatalf("bpfnetstat %s: %v\n%s", tr.name, tr.waitErr, tr.stderrText())
			}
		}
		for _, c := range []struct {
			tr   *trTracer
			kind string
			// want: lines of the helper's connections (both ends).
			want int
		}{{life, "life_line", 8}, {trace, "trace_line", 8}} {
			out, err := os.ReadFile(c.tr.stdoutPath)
			if err != nil {
				t.Fatal(err)
			}
			objs := validateLines(t, c.kind, "bpfnetstat "+c.tr.name+" --json", string(out))
			n := 0
			for _, o := range objs {
				if o["rport"] == jsonNumber(9095) || o["lport"] == jsonNumber(9095) {
					n++
					if o["pid"] != jsonNumber(pid) {
						t.Errorf("%s: a line of the helper's connections has pid %v, want %d: %v", c.tr.name, o["pid"], pid, o)
					}
				}
			}
			if n < c.want {
				t.Errorf("%s: %d lines of the helper's connections to port 9095, want at least %d:\n%s", c.tr.name, n, c.want, out)
			}
		}
	})

	t.Run("watch_timewait", func(t *testing.T) {
		watch := exec.Command("ip", "netns", "exec", s.ns.name, b.ours, "watch", "--json", "--count", "3", "--interval", "700ms")
		tw := exec.Command("ip", "netns", "exec", s.ns.name, b.ours, "timewait", "--json", "--interval", "1500ms")
		var watchOut, twOut, watchErr, twErr strings.Builder
		watch.Stdout, watch.Stderr = &watchOut, &watchErr
		tw.Stdout, tw.Stderr = &twOut, &twErr
		for _, c := range []*exec.Cmd{watch, tw} {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond) // both have taken their first snapshot
		pid := wtTimeWaits(t, s.ns.name, 9096, 3)
		if err := watch.Wait(); err != nil {
			t.Fatalf("watch --json: %v\n%s", err, watchErr.String())
		}
		if err := tw.Wait(); err != nil {
			t.Fatalf("timewait --json: %v\n%s", err, twErr.String())
		}
		lines := validateLines(t, "watch_line", "bpfnetstat watch --json", watchOut.String())
		if len(lines) != 3 {
			t.Errorf("watch: %d valid lines, want 3:\n%s", len(lines), watchOut.String())
		} else if conns, _ := lines[2]["connections"].([]any); !hasField(conns, "state=TIME_WAIT") || !hasField(conns, fmt.Sprintf("pid=%d", pid)) {
			t.Errorf("watch: the last snapshot has no TIME_WAIT row of pid %d:\n%s", pid, watchOut.String())
		}
		sums := validateLines(t, "timewait_line", "bpfnetstat timewait --json", twOut.String())
		if len(sums) != 1 {
			t.Errorf("timewait: %d valid lines, want 1:\n%s", len(sums), twOut.String())
		} else if press, _ := sums[0]["port_pressure"].([]any); !hasField(press, "remote=127.0.0.1:9096") {
			t.Errorf("timewait: no port pressure towards 127.0.0.1:9096:\n%s", twOut.String())
		}
	})
}

// jsonNumber is n as jsonschema.UnmarshalJSON decodes numbers.
func jsonNumber(n int) any {
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(fmt.Sprint(n)))
	return v
}

// hasField reports whether some element of arr has field=value (value
// compared as JSON text would print it).
func hasField(arr []any, fieldValue string) bool {
	field, value, _ := strings.Cut(fieldValue, "=")
	for _, e := range arr {
		if o, ok := e.(map[string]any); ok && fmt.Sprint(o[field]) == value {
			return true
		}
	}
	return false
}
