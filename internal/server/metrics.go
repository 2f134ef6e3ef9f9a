package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/metrics"
	"github.com/ohfp/ohfp/internal/store"
)

var (
	machinesDesc = prometheus.NewDesc("ohfp_machines",
		"Machines alive (holding a slot of their template), by template and last seen cloud state.",
		[]string{"template", "state"}, nil)
	requestsDesc = prometheus.NewDesc("ohfp_requests",
		"Stored requests, by kind (create, return) and state.",
		[]string{"kind", "state"}, nil)
	capacityDesc = prometheus.NewDesc("ohfp_template_capacity",
		"A template's maxNumber (-1: unlimited).",
		[]string{"template"}, nil)
	usedDesc = prometheus.NewDesc("ohfp_template_used",
		"Slots of a template held: alive machines plus machines still expected.",
		[]string{"template"}, nil)
	storeUpDesc = prometheus.NewDesc("ohfp_store_up",
		"1 when this scrape read the configuration and the store, 0 when it could not.",
		nil, nil)
)

// serveMetrics reads the log lines written since the last scrape, the
// operation counts and the store, and answers in Prometheus's text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.pollLog()
	snap := s.storeMetrics(r.Context())
	counts, err := s.counts.Read()
	if err != nil {
		s.log.Warn("metrics: reading the operation counts", "err", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Collector(append(snap, counts.Metrics()...)))
	promhttp.HandlerFor(prometheus.Gatherers{s.metrics, reg}, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// storeMetrics reads the gauges of the store at scrape time: templates and
// their usage, alive machines, and requests. A failure is reported as
// ohfp_store_up 0 so that the log-derived counters are still served.
func (s *Server) storeMetrics(ctx context.Context) []prometheus.Metric {
	up := func(v float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, v)
	}
	a, err := s.open(ctx)
	if err != nil {
		s.log.Warn("metrics: opening the provider instance", "err", err)
		return []prometheus.Metric{up(0)}
	}
	defer a.Close()
	usage, err := a.Broker.Usage(ctx)
	if err != nil {
		s.log.Warn("metrics: reading usage", "err", err)
		return []prometheus.Metric{up(0)}
	}
	machines, err := a.Broker.Machines(ctx, store.MachineQuery{AliveOnly: true})
	if err != nil {
		s.log.Warn("metrics: listing machines", "err", err)
		return []prometheus.Metric{up(0)}
	}
	requests, err := a.Broker.Requests(ctx, store.RequestQuery{})
	if err != nil {
		s.log.Warn("metrics: listing requests", "err", err)
		return []prometheus.Metric{up(0)}
	}
	// The usual series are present at 0 too, so that a gauge falls to 0
	// rather than vanishing when its last machine or request goes.
	type pair struct{ a, b string }
	byMachine, byRequest := map[pair]int{}, map[pair]int{}
	out := []prometheus.Metric{up(1)}
	for _, t := range a.Config.Templates {
		out = append(out,
			prometheus.MustNewConstMetric(capacityDesc, prometheus.GaugeValue, float64(t.MaxNumber), t.ID),
			prometheus.MustNewConstMetric(usedDesc, prometheus.GaugeValue, float64(usage[t.ID]), t.ID))
		for _, st := range cloud.StatesWhere(cloud.State.Up) {
			byMachine[pair{t.ID, string(st)}] = 0
		}
	}
	for _, m := range machines {
		byMachine[pair{m.TemplateID, string(m.State)}]++
	}
	for _, k := range []store.Kind{store.KindCreate, store.KindReturn} {
		for _, st := range store.States {
			byRequest[pair{string(k), string(st)}] = 0
		}
	}
	for _, r := range requests {
		byRequest[pair{string(r.Kind), string(r.State)}]++
	}
	for desc, n := range map[*prometheus.Desc]map[pair]int{machinesDesc: byMachine, requestsDesc: byRequest} {
		for k, v := range n {
			out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), k.a, k.b))
		}
	}
	return out
}
