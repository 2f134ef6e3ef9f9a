package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// exported are the series names a query may read: what this package
// pushes (a histogram as its _bucket, _sum and _count), and the
// Pushgateway's own push_time_seconds.
func exported(t *testing.T) []string {
	var c Counts
	c.add("requestMachines", "success", 0)
	ms := append(c.Metrics(), Resources(nil)...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector(ms))
	names := []string{"push_time_seconds", "ohfp_instances", "ohfp_vcpus"}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		names = append(names, f.GetName())
		if f.Metric[0].Histogram != nil {
			names = append(names, f.GetName()+"_bucket", f.GetName()+"_sum", f.GetName()+"_count")
		}
	}
	return names
}

var seriesName = regexp.MustCompile(`\b(ohfp_[a-z_]+|push_time_seconds)\b`)

// checkExpr fails on a query that reads a series ohfp does not make or
// whose brackets do not balance.
func checkExpr(t *testing.T, where, expr string, names []string) {
	t.Helper()
	for _, n := range seriesName.FindAllString(expr, -1) {
		if !slices.Contains(names, n) {
			t.Errorf("%s reads %s, which ohfp does not make", where, n)
		}
	}
	depth := 0
	for _, r := range expr {
		switch r {
		case '(', '{', '[':
			depth++
		case ')', '}', ']':
			depth--
		}
		if depth < 0 {
			break
		}
	}
	if depth != 0 {
		t.Errorf("%s: unbalanced brackets in %s", where, expr)
	}
}

// TestMonitoringExamples: the Grafana dashboard and the alert rules in
// examples/monitoring parse, read only series ohfp makes, and cover the
// OHFP requirements guide's metrics.
func TestMonitoringExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "monitoring")
	names := exported(t)

	b, err := os.ReadFile(filepath.Join(dir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var titles []string
	for _, p := range dash.Panels {
		titles = append(titles, strings.ToLower(p.Title))
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, names)
		}
	}
	for _, want := range []string{"success rate", "response time", "instances", "vcpus", "error rate"} {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no panel for %s among %q", want, titles)
		}
	}

	b, err = os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: no alert name or summary", r)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, names)
		}
	}
	if n == 0 {
		t.Error("no alert rules")
	}
}
