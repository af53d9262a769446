package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The deployment files are checked by the tools that will read them: the
// systemd unit by systemd-analyze verify, the Prometheus configuration and
// rules by promtool (rules with unit tests that make each alert fire), the
// Kubernetes manifests by a YAML parser and the fields the agent needs.

func TestAgentSystemdUnit(t *testing.T) {
	agRequireTools(t, "systemd-analyze")
	b := getBinaries(t)
	unit, err := os.ReadFile("../deploy/systemd/bpfnetstat-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	// systemd-analyze checks that ExecStart's program exists: point it at
	// the binary under test.
	text = strings.ReplaceAll(text, "/usr/local/bin/bpfnetstat", b.ours)
	dir := t.TempDir()
	path := filepath.Join(dir, "bpfnetstat-agent.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"ProtectSystem=strict", "NoNewPrivileges=yes", "CAP_BPF", "CAP_PERFMON", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	// Seven capabilities, CAP_SYS_ADMIN for setns into the containers'
	// network namespaces; namespaces of no other type, and no mount.
	const caps = "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_RESOURCE CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN"
	want := map[string]string{"CapabilityBoundingSet": caps, "AmbientCapabilities": caps, "RestrictNamespaces": "net",
		"SystemCallFilter": "@system-service bpf perf_event_open"}
	for line := range strings.Lines(text) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		if w, ok := want[k]; ok {
			if v != w {
				t.Errorf("unit: %s=%s, want %s", k, v, w)
			}
			delete(want, k)
		}
	}
	if len(want) != 0 {
		t.Errorf("unit lacks %v", want)
	}
}

func TestAgentPrometheusFiles(t *testing.T) {
	agRequireTools(t, "promtool")
	dir := "../deploy/prometheus"
	for _, args := range [][]string{
		{"check", "rules", "bpfnetstat-rules.yml"},
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "bpfnetstat-rules.test.yml"},
	} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The Kubernetes scrape job needs a Prometheus with Kubernetes
	// discovery (not Debian's): parse it here at least.
	b, err := os.ReadFile(filepath.Join(dir, "kubernetes-scrape.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil || len(k.ScrapeConfigs) != 1 || k.ScrapeConfigs[0]["kubernetes_sd_configs"] == nil {
		t.Errorf("kubernetes-scrape.yml: %v, %+v", err, k)
	}
}

func TestAgentKubernetesManifests(t *testing.T) {
	b, err := os.ReadFile("../deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type mount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	}
	type doc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
				Spec struct {
					HostPID    bool `json:"hostPID"`
					Containers []struct {
						Args            []string `json:"args"`
						VolumeMounts    []mount  `json:"volumeMounts"`
						SecurityContext struct {
							Privileged   bool `json:"privileged"`
							Capabilities struct {
								Add []string `json:"add"`
							} `json:"capabilities"`
						} `json:"securityContext"`
					} `json:"containers"`
					Volumes []struct {
						Name     string `json:"name"`
						HostPath struct {
							Path string `json:"path"`
						} `json:"hostPath"`
					} `json:"volumes"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	kinds := map[string]bool{}
	for _, part := range strings.Split(string(b), "\n---\n") {
		var d doc
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatalf("YAML: %v", err)
		}
		kinds[d.Kind] = true
		if d.Kind != "DaemonSet" {
			continue
		}
		s := d.Spec.Template.Spec
		if !s.HostPID {
			t.Error("DaemonSet without hostPID")
		}
		if a := d.Spec.Template.Metadata.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9847" {
			t.Errorf("scrape annotations %v", a)
		}
		hostPaths := map[string]string{}
		for _, v := range s.Volumes {
			hostPaths[v.Name] = v.HostPath.Path
		}
		c := s.Containers[0]
		mounted := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if hostPaths[m.Name] == m.MountPath || m.MountPath == "/host/proc" && hostPaths[m.Name] == "/proc" {
				mounted[hostPaths[m.Name]] = true
			}
		}
		for _, p := range []string{"/sys/fs/bpf", "/sys/kernel/tracing", "/proc", "/sys/kernel/btf"} {
			if !mounted[p] {
				t.Errorf("host path %s not mounted", p)
			}
		}
		if c.SecurityContext.Privileged || !strings.Contains(strings.Join(c.SecurityContext.Capabilities.Add, ","), "BPF") {
			t.Errorf("security context: privileged %v, capabilities %v", c.SecurityContext.Privileged, c.SecurityContext.Capabilities.Add)
		}
		if len(c.Args) == 0 || c.Args[0] != "agent" {
			t.Errorf("container args %v", c.Args)
		}
	}
	if !kinds["DaemonSet"] || !kinds["Namespace"] {
		t.Errorf("kinds %v, want a Namespace and a DaemonSet", kinds)
	}
}
