// Package metrics counts HostFactory operations across the short-lived
// processes that carry them out, and delivers the counts and the resource
// gauges to a Prometheus Pushgateway, the mechanism Prometheus offers for
// batch jobs. The counts are kept in a file of the provider instance's
// work folder, so that they do not depend on the log, its level or its
// rotation; `ohfp serve` reads the same file.
package metrics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/ohfp/ohfp/internal/store"
)

// Buckets are the upper bounds of the operation durations, in seconds:
// from a status poll to the guides' 60 s requestMachines budget.
var Buckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

var (
	operationsDesc = prometheus.NewDesc("ohfp_operations_total",
		"HostFactory operations carried out (scripts and REST), by operation and outcome (success or the error code).",
		[]string{"operation", "outcome"}, nil)
	durationsDesc = prometheus.NewDesc("ohfp_operation_duration_seconds",
		"Duration of HostFactory operations, by operation.",
		[]string{"operation"}, nil)
	instancesDesc = prometheus.NewDesc("ohfp_instances",
		"Machines alive, by template, price type (ondemand, spot) and last seen cloud state.",
		[]string{"template", "price_type", "state"}, nil)
	vcpusDesc = prometheus.NewDesc("ohfp_vcpus",
		"vCPUs of the machines alive, by template, price type and last seen cloud state.",
		[]string{"template", "price_type", "state"}, nil)
)

// Histogram is one operation's durations: counts per bucket of Buckets
// (not cumulative), with the count and sum of all.
type Histogram struct {
	Buckets []uint64 `json:"buckets"`
	Count   uint64   `json:"count"`
	Sum     float64  `json:"sum"`
}

// Counts are the operations of one provider instance on one host since
// its counts file was made.
type Counts struct {
	// Operations counts by operation, then by outcome.
	Operations map[string]map[string]uint64 `json:"operations"`
	Durations  map[string]*Histogram        `json:"durations"`
}

// add counts one operation.
func (c *Counts) add(op, outcome string, took time.Duration) {
	if c.Operations == nil {
		c.Operations = map[string]map[string]uint64{}
	}
	if c.Durations == nil {
		c.Durations = map[string]*Histogram{}
	}
	if c.Operations[op] == nil {
		c.Operations[op] = map[string]uint64{}
	}
	c.Operations[op][outcome]++
	h := c.Durations[op]
	if h == nil || len(h.Buckets) != len(Buckets) {
		h = &Histogram{Buckets: make([]uint64, len(Buckets))}
		c.Durations[op] = h
	}
	s := took.Seconds()
	if i, _ := slices.BinarySearch(Buckets, s); i < len(Buckets) {
		h.Buckets[i]++
	}
	h.Count++
	h.Sum += s
}

// Metrics are the counts as Prometheus counters and histograms.
func (c Counts) Metrics() []prometheus.Metric {
	var out []prometheus.Metric
	for op, outcomes := range c.Operations {
		for outcome, n := range outcomes {
			out = append(out, prometheus.MustNewConstMetric(operationsDesc, prometheus.CounterValue, float64(n), op, outcome))
		}
	}
	for op, h := range c.Durations {
		cumulative := make(map[float64]uint64, len(Buckets))
		var sum uint64
		for i, b := range Buckets {
			if i < len(h.Buckets) {
				sum += h.Buckets[i]
			}
			cumulative[b] = sum
		}
		out = append(out, prometheus.MustNewConstHistogram(durationsDesc, h.Count, h.Sum, cumulative, op))
	}
	return out
}

// Resources are the gauges of the machines alive: instances and vCPUs by
// template, price type and state.
func Resources(alive []store.Machine) []prometheus.Metric {
	type key struct{ template, price, state string }
	instances, vcpus := map[key]int{}, map[key]int{}
	for _, m := range alive {
		k := key{m.TemplateID, cmp.Or(m.PriceType, "ondemand"), string(m.State)}
		instances[k]++
		vcpus[k] += m.Threads
	}
	var out []prometheus.Metric
	for k, n := range instances {
		out = append(out,
			prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n), k.template, k.price, k.state),
			prometheus.MustNewConstMetric(vcpusDesc, prometheus.GaugeValue, float64(vcpus[k]), k.template, k.price, k.state))
	}
	return out
}

// Collector serves metrics read once. It describes nothing, so a registry
// takes it unchecked.
type Collector []prometheus.Metric

// Describe describes nothing: the metrics are known only once read.
func (Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends the metrics.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// File is the counts file of a provider instance in its work folder.
type File struct{ path string }

// CountsFile is the counts file of provider in the work folder dir.
func CountsFile(dir, provider string) File {
	return File{path: filepath.Join(dir, "metrics."+provider+".json")}
}

// Read reads the counts; a file not made yet holds none.
func (f File) Read() (Counts, error) {
	var c Counts
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Counts{}, fmt.Errorf("%s: %w", f.path, err)
	}
	return c, nil
}

// Add counts one operation, then calls then with the counts while the
// file is still locked: pushes from concurrent processes then reach the
// gateway in the order of their counts, and a counter never goes back.
// The file is replaced whole, so a reader never sees half of it.
func (f File) Add(op, outcome string, took time.Duration, then func(Counts)) error {
	lock, err := os.OpenFile(f.path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	c, err := f.Read()
	if err != nil {
		// A damaged file must not stop the operations: counting restarts,
		// which Prometheus reads as a counter reset.
		c = Counts{}
	}
	c.add(op, outcome, took)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if then != nil {
		then(c)
	}
	return nil
}

// DefaultGateway is where a Pushgateway listens by default, when
// monitoring is on without a metrics_endpoint.
const DefaultGateway = "http://127.0.0.1:9091"

// Job is the Pushgateway job of ohfp's metrics.
const Job = "ohfp"

// GatewayURL is the Pushgateway's base URL for endpoint: the OHFP
// integration guide names the metrics path (http://host:8080/metrics),
// under which the push client adds its own /metrics/job/... path.
func GatewayURL(endpoint string) string {
	return strings.TrimSuffix(strings.TrimRight(endpoint, "/"), "/metrics")
}

// Push replaces the metrics of this provider instance on this host at the
// Pushgateway of endpoint with ms: the grouping key is the job, the
// provider instance and the host.
func Push(ctx context.Context, endpoint, provider, host string, ms []prometheus.Metric) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(Collector(ms)); err != nil {
		return err
	}
	return push.New(GatewayURL(endpoint), Job).
		Grouping("provider", provider).
		Grouping("instance", host).
		Gatherer(reg).
		PushContext(ctx)
}
