package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// TestAddCountsEveryProcess: concurrent processes' operations all count,
// and each sees counts that include its own.
func TestAddCountsEveryProcess(t *testing.T) {
	f := CountsFile(t.TempDir(), "awsinst")
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outcome := "success"
			if i%4 == 0 {
				outcome = "CLOUD_ERROR"
			}
			err := f.Add("requestMachines", outcome, time.Duration(i)*100*time.Millisecond, func(c Counts) {
				if c.Durations["requestMachines"].Count == 0 {
					t.Error("counts without this operation")
				}
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c, err := f.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Operations["requestMachines"]; got["success"] != 15 || got["CLOUD_ERROR"] != 5 {
		t.Errorf("operations %v", got)
	}
	h := c.Durations["requestMachines"]
	var inBuckets uint64
	for _, b := range h.Buckets {
		inBuckets += b
	}
	// 0 to 1.9 s: every duration falls in a bucket.
	if h.Count != n || inBuckets != n {
		t.Errorf("histogram %+v", h)
	}
}

// TestMetrics: the counts read as Prometheus series, a duration in the
// first bucket whose bound is at least it; the resource gauges sum vCPUs.
func TestMetrics(t *testing.T) {
	var c Counts
	c.add("getRequestStatus", "success", 10*time.Millisecond)   // le 0.01
	c.add("getRequestStatus", "success", 11*time.Millisecond)   // le 0.025
	c.add("getRequestStatus", "INVALID_REQUEST", 2*time.Minute) // above every bound
	if got := series(t, c.Metrics()); got["ohfp_operations_total"] != 2 || got["ohfp_operation_duration_seconds"] != 1 {
		t.Errorf("series %v", got)
	}
	if got := c.Durations["getRequestStatus"].Buckets[:2]; got[0] != 1 || got[1] != 1 {
		t.Errorf("buckets %v", got)
	}
	alive := []store.Machine{
		{TemplateID: "a", PriceType: "spot", State: cloud.Running, Threads: 2},
		{TemplateID: "a", PriceType: "spot", State: cloud.Running, Threads: 4},
		{TemplateID: "a", State: cloud.Pending, Threads: 2},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector(Resources(alive)))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vcpus := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.Metric {
			if f.GetName() == "ohfp_vcpus" {
				vcpus[m.Label[0].GetValue()+"/"+m.Label[1].GetValue()] = m.Gauge.GetValue()
			}
		}
	}
	// Labels sort by name: price_type, state, template.
	if vcpus["spot/running"] != 6 || vcpus["ondemand/pending"] != 2 || len(vcpus) != 2 {
		t.Errorf("vcpus %v", vcpus)
	}
}

// series counts the series of each metric name among ms.
func series(t *testing.T, ms []prometheus.Metric) map[string]int {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector(ms))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range fams {
		out[f.GetName()] = len(f.Metric)
	}
	return out
}

func TestGatewayURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://monitoring.internal:8080/metrics": "http://monitoring.internal:8080",
		"http://127.0.0.1:9091/":                  "http://127.0.0.1:9091",
		"http://127.0.0.1:9091":                   "http://127.0.0.1:9091",
	} {
		if got := GatewayURL(in); got != want {
			t.Errorf("GatewayURL(%s) = %s", in, got)
		}
	}
}
