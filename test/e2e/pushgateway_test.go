package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// gateway is a real Prometheus Pushgateway (Debian's
// prometheus-pushgateway, which tools/setup.sh installs) on 127.0.0.1.
type gateway struct {
	url string
}

// pushgateway starts a Pushgateway for the test, stopped when it ends.
func pushgateway(t *testing.T) *gateway {
	t.Helper()
	bin := "/usr/bin/prometheus-pushgateway"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Pushgateway (run tools/setup.sh): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--persistence.file=", "--log.level=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	g := &gateway{url: "http://" + addr}
	for i := 0; ; i++ {
		res, err := http.Get(g.url + "/-/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return g
			}
		}
		if i == 100 {
			t.Fatalf("the Pushgateway at %s is not ready: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for a process to listen: nothing to poll instead
	}
}

// families reads what the gateway exposes.
func (g *gateway) families(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(g.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("the Pushgateway's metrics do not parse: %v", err)
	}
	return fams
}

// seriesValue is the value of the series of name whose labels include labels,
// -1 when there is none: a counter's or gauge's value, a histogram's count.
func seriesValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// expect checks that the gateway holds the counters of provider's
// successful op, pushed by the scripts.
func (g *gateway) expect(t *testing.T, provider, op string) {
	t.Helper()
	fams := g.families(t)
	labels := map[string]string{"job": "ohfp", "provider": provider, "operation": op, "outcome": "success"}
	if v := seriesValue(fams, "ohfp_operations_total", labels); v < 1 {
		t.Errorf("ohfp_operations_total%v = %v on the Pushgateway", labels, v)
	}
	if v := seriesValue(fams, "ohfp_operation_duration_seconds", map[string]string{"provider": provider, "operation": op}); v < 1 {
		t.Errorf("ohfp_operation_duration_seconds of %s: %v", op, v)
	}
}

// TestScriptsPushToAPushgateway: with monitoring on, every script call
// counts its operation and pushes the counts to a real Pushgateway, with
// the resource gauges; the counts do not depend on the log level, and an
// unreachable gateway changes no answer.
func TestScriptsPushToAPushgateway(t *testing.T) {
	g := pushgateway(t)
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("spot", 10, map[string]any{"priceType": "spot"})},
		map[string]any{"OHFP_METRICS_ENABLED": true, "OHFP_METRICS_ENDPOINT": g.url + "/metrics"})
	e.hf.Env = append(e.hf.Env, "HF_LOG_LEVEL=WARN")
	e.call("getAvailableTemplates", hostfactory.Raw("{}"))
	id := e.request("spot", 3)
	e.wait(id)
	e.failure("requestMachines", hostfactory.Raw(`{"templateId": "nope", "maxNumber": 1}`), 2)

	fams := g.families(t)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ohfp_operations_total", map[string]string{"operation": "requestMachines", "outcome": "success"}, 1},
		{"ohfp_operations_total", map[string]string{"operation": "requestMachines", "outcome": "TEMPLATE_NOT_FOUND"}, 1},
		{"ohfp_operations_total", map[string]string{"operation": "getAvailableTemplates", "outcome": "success"}, 1},
		{"ohfp_operation_duration_seconds", map[string]string{"operation": "requestMachines"}, 2},
		{"ohfp_instances", map[string]string{"template": "spot", "price_type": "spot", "state": "running"}, 3},
		{"ohfp_vcpus", map[string]string{"template": "spot", "price_type": "spot", "state": "running"}, 6},
	} {
		c.labels["job"], c.labels["provider"] = "ohfp", "awsinst"
		if got := seriesValue(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if polls := seriesValue(fams, "ohfp_operations_total", map[string]string{"operation": "getRequestStatus", "outcome": "success"}); polls < 1 {
		t.Errorf("getRequestStatus counted %v times", polls)
	}

	// The gateway gone, the scripts answer as before, with a WARN line.
	dead := newEnv(t, sandbox.Options{}, []map[string]any{template("basic", 10, nil)},
		map[string]any{"OHFP_METRICS_ENABLED": true, "OHFP_METRICS_ENDPOINT": "http://127.0.0.1:1"})
	if res := dead.call("getAvailableTemplates", hostfactory.Raw("{}")); res.Exit != 0 {
		t.Errorf("with no gateway: exit %d\n%s", res.Exit, res.Stdout)
	}
	logs, _ := filepath.Glob(filepath.Join(dead.root, "log", "*ohfp.log*"))
	if b, _ := os.ReadFile(logs[0]); !strings.Contains(string(b), `"level":"WARN","msg":"metrics: pushing to the Pushgateway"`) {
		t.Errorf("no WARN line for the gateway gone:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dead.root, "work", fmt.Sprintf("metrics.%s.json", "awsinst"))); err != nil {
		t.Errorf("counts file: %v", err)
	}
}
