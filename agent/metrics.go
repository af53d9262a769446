package agent

import (
	"runtime"
	"sort"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// Other is the label value that owners and destinations beyond the top N
// fold into.
const Other = "~other"

// DurationBuckets are connection_duration_seconds' buckets: from a
// loopback round trip to an hour-long session.
var DurationBuckets = []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600}

// Metrics holds the agent's Prometheus metrics. Label values are bounded:
// the first TopN owners (by command name) seen get their own series, every
// later one is counted as comm="~other"; failure reasons are the fixed
// names of conn.Failures, other socket errors "other"; snapshot gauges keep
// the TopN largest values and fold the rest.
type Metrics struct {
	Registry *prometheus.Registry
	topN     int

	mu    sync.Mutex
	comms map[string]bool
	// cache holds the resolved series of each (direction, raw comm): a
	// label lookup hashes every value, a map hit does not.
	cache map[seriesKey]*series

	opened, closed, sent, received *prometheus.CounterVec
	failures                       *prometheus.CounterVec
	duration                       *prometheus.HistogramVec
	evictions                      prometheus.Counter
	auditRecords, auditErrors      prometheus.CounterFunc
	tracked                        prometheus.Gauge
	lossEvents                     prometheus.Counter

	snap snapCollector
	cost snapCost
}

// Counts are what the agent reads from the tracer and its table at a
// scrape.
type Counts struct {
	Events uint64
	Lost   map[string]uint64 // per reason
}

// NewMetrics registers every metric on a fresh registry. counts, when not
// nil, is called at each scrape for events_total and events_lost_total;
// audit for the audit log's record and error counts; version labels
// build_info.
func NewMetrics(version string, topN int, counts func() Counts, audit func() (records, errors uint64)) *Metrics {
	if topN <= 0 {
		topN = 20
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg, topN: topN, comms: map[string]bool{}, cache: map[seriesKey]*series{}}
	dc := []string{"direction", "comm"}
	m.opened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bpfnetstat_connections_opened_total",
		Help: "TCP connections opened, by direction (active: connect, passive: accept) and owner command; passive ones when accepted, active ones and never-accepted ones when they close."}, dc)
	m.closed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bpfnetstat_connections_closed_total",
		Help: "TCP connections closed (normally or not), by direction and owner command."}, dc)
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bpfnetstat_connect_failures_total",
		Help: "TCP connections that failed or ended abnormally, by owner command and reason (refused, timeout, unreachable, reset, aborted, not_accepted, abandoned, unseen, other)."}, []string{"comm", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bpfnetstat_connection_duration_seconds",
		Help: "Life of closed TCP connections, from connect or SYN to close.", Buckets: DurationBuckets}, dc)
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bpfnetstat_bytes_sent_total",
		Help: "Payload bytes sent by closed TCP connections (retransmissions excluded)."}, dc)
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bpfnetstat_bytes_received_total",
		Help: "Payload bytes received by closed TCP connections."}, dc)
	m.evictions = prometheus.NewCounter(prometheus.CounterOpts{Name: "bpfnetstat_table_evictions_total",
		Help: "Connections dropped from the agent's table because it was full (--max-connections)."})
	m.tracked = prometheus.NewGauge(prometheus.GaugeOpts{Name: "bpfnetstat_table_connections",
		Help: "Connections the agent's table holds, recently closed ones included."})
	m.lossEvents = prometheus.NewCounter(prometheus.CounterOpts{Name: "bpfnetstat_audit_loss_records_total",
		Help: "Loss records written to the audit log."})
	if audit == nil {
		audit = func() (uint64, uint64) { return 0, 0 }
	}
	m.auditRecords = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bpfnetstat_audit_records_total",
		Help: "Records handed to the audit log."}, func() float64 { r, _ := audit(); return float64(r) })
	m.auditErrors = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bpfnetstat_audit_write_errors_total",
		Help: "Failed writes of the audit log (each loses the records it carried)."}, func() float64 { _, e := audit(); return float64(e) })
	m.snap.counts = counts
	goVersion := runtime.Version()
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bpfnetstat_build_info",
		Help:        "Always 1; the labels say which bpfnetstat runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion}})
	info.Set(1)
	topGauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bpfnetstat_label_top_n",
		Help: "The top N beyond which owners and destinations fold into ~other."})
	topGauge.Set(float64(topN))
	reg.MustRegister(m.opened, m.closed, m.failures, m.duration, m.sent, m.received, m.evictions, m.tracked,
		m.lossEvents, m.auditRecords, m.auditErrors, info, topGauge, &m.snap, &m.cost,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type seriesKey struct {
	dir  conn.Direction
	comm string // as the tracer gave it
}

type series struct {
	comm                           string // the label
	opened, closed, sent, received prometheus.Counter
	duration                       prometheus.Observer
}

// maxCache bounds the series cache: raw names beyond the top N all map to
// ~other, but each is a key; past this many the cache starts over.
const maxCache = 4096

func (m *Metrics) series(dir conn.Direction, comm string) *series {
	k := seriesKey{dir, comm}
	m.mu.Lock()
	s := m.cache[k]
	m.mu.Unlock()
	if s != nil {
		return s
	}
	label := m.commLabel(comm)
	d := dir.String()
	s = &series{comm: label, opened: m.opened.WithLabelValues(d, label), closed: m.closed.WithLabelValues(d, label),
		sent: m.sent.WithLabelValues(d, label), received: m.received.WithLabelValues(d, label),
		duration: m.duration.WithLabelValues(d, label)}
	m.mu.Lock()
	if len(m.cache) >= maxCache {
		clear(m.cache)
	}
	m.cache[k] = s
	m.mu.Unlock()
	return s
}

// commLabel is an owner's comm label: escaped (label values must be UTF-8
// and stay terminal-safe), "-" when unknown, "~other" beyond the top N.
func (m *Metrics) commLabel(comm string) string {
	if comm == "" {
		comm = "-"
	} else {
		comm = output.Escape(comm)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.comms[comm] {
		return comm
	}
	if len(m.comms) < m.topN {
		m.comms[comm] = true
		return comm
	}
	return Other
}

func reasonLabel(f string) string {
	for _, name := range conn.Failures {
		if f == name {
			return f
		}
	}
	return "other"
}

// Accepted counts a passive open at its accept, with the acceptor as owner.
func (m *Metrics) Accepted(owner string) {
	m.series(conn.DirPassive, owner).opened.Inc()
}

// Closed counts a finished connection: its close, its bytes and duration,
// its failure, and its open when that was not counted at an accept (an
// active connection, or a passive one that was never accepted).
func (m *Metrics) Closed(c *conn.Conn) {
	s := m.series(c.Direction, c.Owner.Comm)
	if c.Direction != conn.DirPassive || c.OwnerSource != conn.OwnerAccept {
		s.opened.Inc()
	}
	s.closed.Inc()
	s.sent.Add(float64(c.TxBytes))
	s.received.Add(float64(c.RxBytes))
	if c.BirthNs != 0 {
		s.duration.Observe(float64(c.DurationNs(c.CloseNs)) / 1e9)
	}
	if f := c.Failure(); f != "" {
		m.failures.WithLabelValues(s.comm, reasonLabel(f)).Inc()
	}
}

// Table reports the table's size and its evictions so far.
func (m *Metrics) Table(size int, evictions uint64) {
	m.tracked.Set(float64(size))
	// A counter only goes up: add what is new.
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := evictions - m.snap.evicted; evictions > m.snap.evicted {
		m.evictions.Add(float64(d))
		m.snap.evicted = evictions
	}
}

// LossRecorded counts a loss record written to the audit log.
func (m *Metrics) LossRecorded() { m.lossEvents.Inc() }

// PortUse is the ephemeral ports in use from one local address to one
// destination.
type PortUse struct {
	LAddr, RAddr string
	RPort        uint16
	InUse        int
}

// SnapshotResult is what a periodic snapshot found.
type SnapshotResult struct {
	TimeWait  map[string]int // by owner command ("-" unknown)
	Ports     []PortUse
	RangeSize int
}

// SetSnapshot replaces the snapshot gauges, folding beyond the top N.
func (m *Metrics) SetSnapshot(r SnapshotResult) {
	type kv struct {
		k string
		v int
	}
	var tw []kv
	for k, v := range r.TimeWait {
		c := "-"
		if k != "" && k != "-" {
			c = output.Escape(k)
		}
		tw = append(tw, kv{c, v})
	}
	sort.Slice(tw, func(i, j int) bool { return tw[i].v > tw[j].v || tw[i].v == tw[j].v && tw[i].k < tw[j].k })
	timewait := map[string]float64{}
	for i, e := range tw {
		if i < m.topN {
			timewait[e.k] += float64(e.v)
		} else {
			timewait[Other] += float64(e.v)
		}
	}
	ports := append([]PortUse(nil), r.Ports...)
	sort.Slice(ports, func(i, j int) bool {
		a, b := ports[i], ports[j]
		if a.InUse != b.InUse {
			return a.InUse > b.InUse
		}
		if a.LAddr != b.LAddr {
			return a.LAddr < b.LAddr
		}
		if a.RAddr != b.RAddr {
			return a.RAddr < b.RAddr
		}
		return a.RPort < b.RPort
	})
	type pk struct{ l, r, p string }
	eph := map[pk]float64{}
	for i, p := range ports {
		if i < m.topN {
			eph[pk{p.LAddr, p.RAddr, strconv.Itoa(int(p.RPort))}] += float64(p.InUse)
		} else {
			// Beyond the top N the largest of the rest is what an alert
			// on the share of the range needs: keep the maximum.
			k := pk{Other, Other, Other}
			eph[k] = max(eph[k], float64(p.InUse))
		}
	}
	m.snap.mu.Lock()
	defer m.snap.mu.Unlock()
	m.snap.timewait = timewait
	m.snap.ports = map[[3]string]float64{}
	for k, v := range eph {
		m.snap.ports[[3]string{k.l, k.r, k.p}] = v
	}
	m.snap.rangeSize = float64(r.RangeSize)
	m.snap.have = true
}

var (
	descTimeWait  = prometheus.NewDesc("bpfnetstat_timewait_sockets", "TIME_WAIT sockets by the command that owned the connection (- unknown: closed before the agent started or forgotten), summed over the network namespaces.", []string{"comm"}, nil)
	descEphemeral = prometheus.NewDesc("bpfnetstat_ephemeral_ports_in_use", "Sockets with a local port in the ephemeral range from one local address to one destination (each needs its own port), counted per network namespace; where namespaces share a local address and destination, the largest namespace's count (ports run out in one namespace); beyond the top N, laddr=raddr=rport=\"~other\" holds the largest of the rest.", []string{"laddr", "raddr", "rport"}, nil)
	descRange     = prometheus.NewDesc("bpfnetstat_ephemeral_port_range_size", "Ports in net.ipv4.ip_local_port_range of the agent's own network namespace (or the --netns one); each namespace's own range decides which of its ports are ephemeral.", nil, nil)
	descEvents    = prometheus.NewDesc("bpfnetstat_events_total", "Events the BPF programs submitted.", nil, nil)
	descLost      = prometheus.NewDesc("bpfnetstat_events_lost_total", "Events lost, by reason: ring_full (ring buffer full), storage_fail (no socket storage), accept_miss (accept not resolved), recursion (kernel skipped the program).", []string{"reason"}, nil)
)

// LossReasons are the reasons of events_lost_total, always exported.
var LossReasons = []string{"ring_full", "storage_fail", "accept_miss", "recursion"}

type snapCollector struct {
	mu        sync.Mutex
	have      bool
	timewait  map[string]float64
	ports     map[[3]string]float64
	rangeSize float64
	counts    func() Counts
	evicted   uint64 // guarded by Metrics.mu
}

func (s *snapCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTimeWait, descEphemeral, descRange, descEvents, descLost} {
		ch <- d
	}
}

func (s *snapCollector) Collect(ch chan<- prometheus.Metric) {
	if s.counts != nil {
		c := s.counts()
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(c.Events))
		for _, r := range LossReasons {
			ch <- prometheus.MustNewConstMetric(descLost, prometheus.CounterValue, float64(c.Lost[r]), r)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.have {
		return
	}
	for k, v := range s.timewait {
		ch <- prometheus.MustNewConstMetric(descTimeWait, prometheus.GaugeValue, v, k)
	}
	for k, v := range s.ports {
		ch <- prometheus.MustNewConstMetric(descEphemeral, prometheus.GaugeValue, v, k[0], k[1], k[2])
	}
	ch <- prometheus.MustNewConstMetric(descRange, prometheus.GaugeValue, s.rangeSize)
}
