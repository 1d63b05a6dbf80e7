package daemon

import (
	"errors"
	"github.com/odoo-agi/odoo-agi/sipws"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// metrics is what /metrics shows. Event counts come from hooks; state is
// read at scrape time.
type metrics struct {
	routed    func(script string) bool // a registered AGI route
	reg       *prometheus.Registry
	sessions  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	commands  *prometheus.CounterVec
	rpc       *prometheus.HistogramVec
	rpcErrors *prometheus.CounterVec
}

var latencyBuckets = []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30}

func newMetrics(routed func(string) bool) *metrics {
	m := &metrics{
		routed: routed,
		reg:    prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odoo_agi_sessions_total",
			Help: "FastAGI sessions by route and outcome (ok, hangup, error, bad_env, panic, refused, busy)."}, []string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "odoo_agi_session_duration_seconds",
			Help: "FastAGI session time, accept to close.", Buckets: latencyBuckets}, []string{"route"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odoo_agi_commands_total",
			Help: "AGI commands sent (round trips Asterisk waits for), by route."}, []string{"route"}),
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "odoo_agi_odoo_rpc_duration_seconds",
			Help: "Odoo XML-RPC call time by method.", Buckets: latencyBuckets}, []string{"method"}),
		rpcErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odoo_agi_odoo_rpc_errors_total",
			Help: "Failed Odoo XML-RPC calls by method and kind."}, []string{"method", "kind"}),
	}
	m.reg.MustRegister(m.sessions, m.duration, m.commands, m.rpc, m.rpcErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch adds the state read at scrape time; mgrs may be empty, spool and d nil.
func (m *metrics) watch(flows *dialplan.Flows, dir *lookup.Directory, mgrs []Manager, spool, retry *calllog.Spool, d *calllog.Deliverer) {
	m.reg.MustRegister(&stateCollector{flows: flows, dir: dir, mgrs: mgrs, spool: spool, retry: retry, d: d})
}

// session counts one FastAGI session. Its route label is a registered route,
// "none" (refused before the env block) or "unknown": a label per script
// name a peer sends would grow the series without bound.
func (m *metrics) session(e agi.SessionEnd) {
	route := e.Script
	switch {
	case route == "":
		route = "none"
	case !m.routed(route):
		route = "unknown"
	}
	m.sessions.WithLabelValues(route, e.Outcome).Inc()
	if e.Duration > 0 {
		m.duration.WithLabelValues(route).Observe(e.Duration.Seconds())
	}
	if e.Commands > 0 {
		m.commands.WithLabelValues(route).Add(float64(e.Commands))
	}
}

func (m *metrics) odooCall(model, method string, d time.Duration, err error) {
	name := model + "." + method
	m.rpc.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		kind := "other"
		for _, k := range []struct {
			err  error
			name string
		}{{odoo.ErrUnreachable, "unreachable"}, {odoo.ErrLogin, "login"}, {odoo.ErrAccess, "access"},
			{odoo.ErrUser, "user"}, {odoo.ErrServer, "server"}} {
			if errors.Is(err, k.err) {
				kind = k.name
				break
			}
		}
		m.rpcErrors.WithLabelValues(name, kind).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// stateCollector reads the index, AMI and call-log state at scrape time.
type stateCollector struct {
	flows *dialplan.Flows
	dir   *lookup.Directory
	mgrs  []Manager
	spool *calllog.Spool
	retry *calllog.Spool
	d     *calllog.Deliverer
}

var (
	descLookups   = prometheus.NewDesc("odoo_agi_lookups_total", "Lookups made by calls (incoming, outgoing) by status (FOUND, NOTFOUND, SKIPPED, UNAVAILABLE).", []string{"status"}, nil)
	descDirLookup = prometheus.NewDesc("odoo_agi_directory_lookups_total", "Every directory lookup, the call log's and click-to-dial's included, by status.", []string{"status"}, nil)
	descNumbers   = prometheus.NewDesc("odoo_agi_index_numbers", "Phone numbers in the in-memory index.", nil, nil)
	descPartners  = prometheus.NewDesc("odoo_agi_index_partners", "Partners in the in-memory index.", nil, nil)
	descComplete  = prometheus.NewDesc("odoo_agi_index_complete", "1 when the index holds every number (a miss needs no Odoo query).", nil, nil)
	descLastSync  = prometheus.NewDesc("odoo_agi_index_last_sync_timestamp_seconds", "Time of the last successful sync or refresh.", nil, nil)
	descAMI       = prometheus.NewDesc("odoo_agi_ami_connected", "1 while logged in to the Asterisk manager (of the PBX named pbx, when there are several).", []string{"pbx"}, nil)
	descPending   = prometheus.NewDesc("odoo_agi_calllog_spool_pending_bytes", "Call-log bytes waiting for Odoo.", nil, nil)
	descSpooled   = prometheus.NewDesc("odoo_agi_calllog_spooled_total", "Calls written to the spool.", nil, nil)
	descDropped   = prometheus.NewDesc("odoo_agi_calllog_dropped_total", "Calls dropped: spool full or corrupt.", nil, nil)
	descDelivered = prometheus.NewDesc("odoo_agi_calllog_delivered_total", "Calls posted to Odoo.", nil, nil)
	descRejected  = prometheus.NewDesc("odoo_agi_calllog_rejected_total", "Calls Odoo kept rejecting, given up.", nil, nil)
	descRetrying  = prometheus.NewDesc("odoo_agi_calllog_retry_pending_bytes", "Call-log bytes set aside to be retried on their own.", nil, nil)
	descFailures  = prometheus.NewDesc("odoo_agi_calllog_delivery_failures_total", "Failed call-log deliveries by cause (unreachable, login, access, refused, server, other).", []string{"cause"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLookups, descDirLookup, descNumbers, descPartners, descComplete, descLastSync, descAMI,
		descPending, descSpooled, descDropped, descDelivered, descRejected, descRetrying, descFailures} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for st, n := range c.flows.LookupCounts() {
		ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(n), st.String())
	}
	for st, n := range c.dir.LookupCounts() {
		ch <- prometheus.MustNewConstMetric(descDirLookup, prometheus.CounterValue, float64(n), st.String())
	}
	s := c.dir.State()
	ch <- prometheus.MustNewConstMetric(descNumbers, prometheus.GaugeValue, float64(s.Numbers))
	ch <- prometheus.MustNewConstMetric(descPartners, prometheus.GaugeValue, float64(s.Partners))
	ch <- prometheus.MustNewConstMetric(descComplete, prometheus.GaugeValue, b2f(s.Complete))
	if !s.LastSync.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastSync, prometheus.GaugeValue, float64(s.LastSync.UnixNano())/1e9)
	}
	for _, m := range c.mgrs {
		ch <- prometheus.MustNewConstMetric(descAMI, prometheus.GaugeValue, b2f(m.Client.State().Connected), m.PBX)
	}
	if c.spool != nil {
		ss, rs, ds := c.spool.Stats(), c.retry.Stats(), c.d.Stats()
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(ss.Pending))
		ch <- prometheus.MustNewConstMetric(descRetrying, prometheus.GaugeValue, float64(rs.Pending))
		ch <- prometheus.MustNewConstMetric(descSpooled, prometheus.CounterValue, float64(ss.Appended))
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(ss.Dropped+rs.Dropped))
		for cause, n := range ds.Failures {
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(n), cause)
		}
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(ds.Delivered))
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(ds.Rejected))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sipCollector reads the softphone relay's counters at scrape time.
type sipCollector struct{ relay *sipws.Relay }

var (
	descSIPOpen     = prometheus.NewDesc("odoo_agi_sip_sockets", "Softphone WebSockets relayed to Asterisk now.", nil, nil)
	descSIPMessages = prometheus.NewDesc("odoo_agi_sip_messages_total", "SIP messages relayed, both ways.", nil, nil)
	descSIPRefused  = prometheus.NewDesc("odoo_agi_sip_refused_total", "Softphone sockets and SIP requests refused, by reason.", []string{"reason"}, nil)
)

func (c sipCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSIPOpen
	ch <- descSIPMessages
	ch <- descSIPRefused
}

func (c sipCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.relay.Stats()
	ch <- prometheus.MustNewConstMetric(descSIPOpen, prometheus.GaugeValue, float64(st.Open))
	ch <- prometheus.MustNewConstMetric(descSIPMessages, prometheus.CounterValue, float64(st.Messages))
	for reason, n := range st.Refused {
		ch <- prometheus.MustNewConstMetric(descSIPRefused, prometheus.CounterValue, float64(n), reason)
	}
}
