package agent

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	helpSnapDuration = "Wall time of the last periodic snapshot (every namespace found, sockstat read, the non-empty ones dumped, the fold); the next one starts after the larger of --snapshot-interval and 20 times this, so that snapshots take at most about 5% of a core."
	helpSnapNS       = "Network namespaces of the last periodic snapshot by result: walked (dumped), skipped (no TCP socket, by their sockstat: not dumped), failed (not read in full: could not be joined without CAP_SYS_ADMIN, so at most their TIME_WAIT sockets were read through a process inside and none of their ephemeral ports; or their dump failed)."
)

var (
	descSnapDuration = prometheus.NewDesc("bpfnetstat_snapshot_duration_seconds", helpSnapDuration, nil, nil)
	descSnapNS       = prometheus.NewDesc("bpfnetstat_snapshot_namespaces", helpSnapNS, []string{"result"}, nil)
)

// snapCost is the cost of the last snapshot: its duration and the
// namespaces walked, skipped and failed.
type snapCost struct {
	mu    sync.Mutex
	have  bool
	d     time.Duration
	stats SnapStats
}

// SetSnapshotCost reports the last snapshot's duration and namespaces.
func (m *Metrics) SetSnapshotCost(d time.Duration, s SnapStats) {
	m.cost.mu.Lock()
	defer m.cost.mu.Unlock()
	m.cost.have, m.cost.d, m.cost.stats = true, d, s
}

func (c *snapCost) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSnapDuration
	ch <- descSnapNS
}

func (c *snapCost) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.have {
		return
	}
	ch <- prometheus.MustNewConstMetric(descSnapDuration, prometheus.GaugeValue, c.d.Seconds())
	for _, r := range []struct {
		name string
		n    int
	}{{"walked", c.stats.Walked}, {"skipped", c.stats.Skipped}, {"failed", c.stats.Failed}} {
		ch <- prometheus.MustNewConstMetric(descSnapNS, prometheus.GaugeValue, float64(r.n), r.name)
	}
}
