package server

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/metrics"
)

func opLine(op, status string, ms int) string {
	return fmt.Sprintf(`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"operation","operation":%q,"duration_ms":%d,"status":%q}`, op, ms, status)
}

// count counts an operation as a script process of the provider instance
// does, in the work folder's counts file.
func (in *instance) count(op, outcome string, ms int) {
	in.t.Helper()
	f := metrics.CountsFile(in.env("HF_PROVIDER_WORKDIR"), in.env("HF_PROVIDER_NAME"))
	if err := f.Add(op, outcome, time.Duration(ms)*time.Millisecond, nil); err != nil {
		in.t.Fatal(err)
	}
}

// The operation counters come from the counts file every process keeps,
// not from the log: a log line counts no operation, whatever the log
// level let through. The other counters come from the log file, lines
// written by other processes included, across a rotation; the gauges come
// from the store.
func TestMetricsFromCountsLogAndStore(t *testing.T) {
	in := newInstance(t, "")
	ops := map[string]string{"operation": "getRequestStatus", "outcome": "success"}
	before := in.scrape()
	if v := value(before, "ohfp_operations_total", ops); v != -1 {
		t.Fatalf("status operations before any: %v", v)
	}

	// Script processes count their operations; the AWS provider and the
	// broker log.
	in.count("getRequestStatus", "success", 20)
	in.count("getRequestStatus", "success", 3000)
	in.count("requestMachines", "QUOTA_EXCEEDED", 5)
	in.count("other", "INVALID_REQUEST", 1)
	in.appendLog(
		opLine("getRequestStatus", "success", 20), // counted above, not again
		`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"aws call","api":"RunInstances","code":""}`,
		`{"timestamp":"2026-11-23T10:00:00Z","level":"WARN","msg":"aws call","api":"RunInstances","code":"InsufficientInstanceCapacity"}`,
		`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"reclaim","instance_id":"i-0123456789abcdef0"}`,
		`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"reconciled","instance_id":"i-0123456789abcdef1","action":"terminated"}`,
		`not json at all`,
	)
	// A line being written when the scrape comes is counted once complete.
	f, err := os.OpenFile(in.logFile(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := `{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"reclaim","instance_id":"i-0123456789abcdef2"}`
	f.WriteString(half[:30])

	m := in.scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ohfp_operations_total", ops, 2},
		{"ohfp_operations_total", map[string]string{"operation": "requestMachines", "outcome": "QUOTA_EXCEEDED"}, 1},
		{"ohfp_operations_total", map[string]string{"operation": "other", "outcome": "INVALID_REQUEST"}, 1},
		{"ohfp_operation_duration_seconds", map[string]string{"operation": "getRequestStatus"}, 2},
		{"ohfp_aws_calls_total", map[string]string{"api": "RunInstances", "code": "ok"}, 1},
		{"ohfp_aws_calls_total", map[string]string{"api": "RunInstances", "code": "InsufficientInstanceCapacity"}, 1},
		{"ohfp_reclaims_total", map[string]string{}, 1},
		{"ohfp_reconciled_instances_total", map[string]string{"action": "terminated"}, 1},
		{"ohfp_template_capacity", map[string]string{"template": "small"}, 3},
		{"ohfp_template_used", map[string]string{"template": "small"}, 0},
		{"ohfp_machines", map[string]string{"template": "small", "state": "running"}, 0},
		{"ohfp_store_up", map[string]string{}, 1},
	} {
		if got := value(m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// The rest of the half line lands, then a process rotates the file and
	// another logs to the new one; the server's REST call counts too.
	f.WriteString(half[30:] + "\n")
	f.Close()
	if err := os.Rename(in.logFile(), in.logFile()+".1"); err != nil {
		t.Fatal(err)
	}
	in.appendLog(`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"reclaim","instance_id":"i-0123456789abcdef3"}`)
	in.count("getRequestStatus", "success", 1)
	in.call("POST", "/api/v1/requests", `{"template":{"templateId":"small","machineCount":2}}`, http.StatusCreated, nil)

	m = in.scrape()
	if got := value(m, "ohfp_reclaims_total", map[string]string{}); got != 3 {
		t.Errorf("reclaims after the rotation: %v, want 3", got)
	}
	if got := value(m, "ohfp_operations_total", ops); got != 3 {
		t.Errorf("status operations: %v, want 3", got)
	}
	if got := value(m, "ohfp_operations_total", map[string]string{"operation": "requestMachines", "outcome": "success"}); got != 1 {
		t.Errorf("REST requestMachines counted %v times", got)
	}
	if got := value(m, "ohfp_machines", map[string]string{"template": "small", "state": "pending"}); got != 2 {
		t.Errorf("pending machines: %v", got)
	}
	if got := value(m, "ohfp_template_used", map[string]string{"template": "small"}); got != 2 {
		t.Errorf("used: %v", got)
	}
	if got := value(m, "ohfp_requests", map[string]string{"kind": "create", "state": "placed"}); got != 1 {
		t.Errorf("placed create requests: %v", got)
	}

	// Truncated in place (a rotation with no backups): read from the start.
	if err := os.Truncate(in.logFile(), 0); err != nil {
		t.Fatal(err)
	}
	in.appendLog(`{"timestamp":"2026-11-23T10:00:00Z","level":"INFO","msg":"reconciled","instance_id":"i-0123456789abcdef4","action":"adopted"}`)
	m = in.scrape()
	if got := value(m, "ohfp_reconciled_instances_total", map[string]string{"action": "adopted"}); got != 1 {
		t.Errorf("after truncation: %v", got)
	}
}

func TestMetricsWhenTheStoreCannotOpen(t *testing.T) {
	in := newInstance(t, "")
	in.count("getAvailableTemplates", "success", 1)
	conf := in.env("HF_PROVIDER_CONFDIR") + "/awsinstprov_config.json"
	if err := os.WriteFile(conf, []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := in.scrape()
	if got := value(m, "ohfp_store_up", map[string]string{}); got != 0 {
		t.Errorf("ohfp_store_up = %v", got)
	}
	if got := value(m, "ohfp_operations_total", map[string]string{"operation": "getAvailableTemplates", "outcome": "success"}); got != 1 {
		t.Errorf("operation counters without the store: %v", got)
	}
}
