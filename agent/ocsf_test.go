package agent

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfnetstat/bpfnetstat/conn"
)

func TestOCSFMapping(t *testing.T) {
	refused := testConn(1)
	refused.Err, refused.ClosedFrom = int32(unix.ECONNREFUSED), conn.TCPSynSent
	timeout := testConn(2)
	timeout.Err = int32(unix.ETIMEDOUT)
	reset := testConn(3)
	reset.Err, reset.ClosedFrom = int32(unix.ECONNRESET), conn.TCPEstablished
	server := testConn(4)
	server.Direction, server.OwnerSource = conn.DirPassive, conn.OwnerAccept
	for _, tc := range []struct {
		name             string
		c                conn.Conn
		activity, status int
		code, dir        string
		src, dst         string
	}{
		{"close", testConn(0), 2, 1, "", "Outbound", "10.0.0.1:40000", "10.0.0.2:443"},
		{"refused", refused, 5, 2, "refused", "Outbound", "10.0.0.1:40000", "10.0.0.2:443"},
		{"timeout", timeout, 4, 2, "timeout", "Outbound", "10.0.0.1:40000", "10.0.0.2:443"},
		{"reset", reset, 3, 2, "reset", "Outbound", "10.0.0.1:40000", "10.0.0.2:443"},
		{"server", server, 2, 1, "", "Inbound", "10.0.0.2:443", "10.0.0.1:40000"},
	} {
		var buf bytes.Buffer
		a, _ := OpenAudit(AuditConfig{Stdout: &buf, Format: FormatOCSF, WallOffsetNs: 1700000000e9, Host: "h1"})
		a.Conn(&tc.c)
		a.Close()
		var r map[string]any
		if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, buf.String())
		}
		num := func(k string) int { f, _ := r[k].(float64); return int(f) }
		obj := func(k string) map[string]any { m, _ := r[k].(map[string]any); return m }
		ep := func(k string) string {
			m := obj(k)
			return netip.AddrPortFrom(netip.MustParseAddr(m["ip"].(string)), uint16(m["port"].(float64))).String()
		}
		if num("class_uid") != 4001 || num("category_uid") != 4 || num("activity_id") != tc.activity || num("type_uid") != 400100+tc.activity {
			t.Errorf("%s: class %d category %d activity %d type %d, want 4001 4 %d %d", tc.name, num("class_uid"), num("category_uid"), num("activity_id"), num("type_uid"), tc.activity, 400100+tc.activity)
		}
		if num("status_id") != tc.status || (r["status_code"] != nil) != (tc.code != "") || tc.code != "" && r["status_code"] != tc.code {
			t.Errorf("%s: status %d code %v, want %d %q", tc.name, num("status_id"), r["status_code"], tc.status, tc.code)
		}
		if d := obj("connection_info")["direction"]; d != tc.dir {
			t.Errorf("%s: direction %v, want %s", tc.name, d, tc.dir)
		}
		if ep("src_endpoint") != tc.src || ep("dst_endpoint") != tc.dst {
			t.Errorf("%s: src %s dst %s, want %s %s", tc.name, ep("src_endpoint"), ep("dst_endpoint"), tc.src, tc.dst)
		}
		tr := obj("traffic")
		if tr["bytes_out"].(float64) != float64(tc.c.TxBytes) || tr["bytes_in"].(float64) != float64(tc.c.RxBytes) {
			t.Errorf("%s: traffic %v, want out %d in %d", tc.name, tr, tc.c.TxBytes, tc.c.RxBytes)
		}
		p := obj("actor")["process"].(map[string]any)
		if p["pid"].(float64) != float64(tc.c.Owner.PID) || p["name"] != "curl" || p["user"].(map[string]any)["uid"] != "33" {
			t.Errorf("%s: actor.process %v", tc.name, p)
		}
		if num("time") != 1700000001005 || num("start_time") != 1700000001000 || num("duration") != 5 {
			t.Errorf("%s: time %d start %d duration %d, want 1700000001005 1700000001000 5", tc.name, num("time"), num("start_time"), num("duration"))
		}
	}
}
