package agent

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil"
	"github.com/bpfnetstat/bpfnetstat/internal/cmdutil/cmdtest"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		check   func(*AgentOptions) bool
		wantErr string // in the error or on stderr
	}{
		{args: "", check: func(o *AgentOptions) bool {
			return o.Listen == "127.0.0.1:9847" && o.AuditLog == "-" && o.AuditFormat == "json" && o.TopN == 20 &&
				o.MaxConnections == 65536 && o.RingBytes == 8<<20 && o.Socket == "/run/bpfnetstat/agent.sock" && o.NetNS == ""
		}},
		{args: "--audit-log /var/log/a.jsonl --audit-format ocsf --audit-max-size 5 --audit-max-backups 3 --listen :9000 --top-n 5 --ring-bytes 65536 --netns /run/netns/x",
			check: func(o *AgentOptions) bool {
				return o.AuditLog == "/var/log/a.jsonl" && o.AuditFormat == "ocsf" && o.AuditMaxSizeMB == 5 && o.AuditMaxBackups == 3 &&
					o.Listen == ":9000" && o.TopN == 5 && o.RingBytes == 65536 && o.NetNS == "/run/netns/x" && o.SnapshotInterval == 5*time.Second
			}},
		{args: "--audit-format xml", wantErr: "--audit-format"},
		{args: "--top-n 0", wantErr: "--top-n"},
		{args: "--ring-bytes 5000", wantErr: "--ring-bytes"},
		{args: "--max-connections 10", wantErr: "--max-connections"},
		{args: "--audit-max-size -1", wantErr: "--audit-max-size"},
		{args: "--snapshot-interval 0s", wantErr: "--snapshot-interval"},
		{args: "extra", wantErr: "unknown command"},
	} {
		var stderr bytes.Buffer
		env := cmdutil.Env{Stdout: &bytes.Buffer{}, Stderr: &stderr}
		got, err := cmdtest.Parse(NewAgentCmd, env, tc.args)
		if tc.wantErr != "" {
			if err == nil || !cmdtest.ErrMatches(err, tc.wantErr) && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("%q: err %v, stderr %q, want %q", tc.args, err, stderr.String(), tc.wantErr)
			}
			if ee, ok := err.(cmdutil.ExitError); ok && ee.Code != 2 {
				t.Errorf("%q: exit %d, want 2 (usage)", tc.args, ee.Code)
			}
			continue
		}
		if err != nil || got == nil || !tc.check(got) {
			t.Errorf("%q: err %v, options %+v", tc.args, err, got)
		}
	}
}
