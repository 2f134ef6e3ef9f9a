package cli_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/cli"
	"github.com/ohfp/ohfp/internal/store"
)

var launched = time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)

func machine(id string) store.Machine {
	return store.Machine{InstanceID: id, Name: "ip-10-0-0-1.ec2.internal", TemplateID: "t1", RequestID: "req-1",
		Result: store.ResultSucceed, State: "running", PrivateIP: "10.0.0.1", InstanceType: "t3.micro", LaunchTime: launched}
}

func render(t *testing.T, o cli.Output, rs []cli.Record) string {
	t.Helper()
	var b bytes.Buffer
	o.W = &b
	if err := o.List(rs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestJSONKeysSnakeOrLegacy(t *testing.T) {
	rows := []cli.Record{cli.MachineRow(machine("i-1")), cli.MachineRow(machine("i-2"))}
	var snake, legacy []map[string]any
	if err := json.Unmarshal([]byte(render(t, cli.Output{Format: cli.JSON}, rows)), &snake); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(render(t, cli.Output{Format: cli.JSON, Legacy: true}, rows)), &legacy); err != nil {
		t.Fatal(err)
	}
	if len(snake) != 2 || snake[1]["machine_id"] != "i-2" || snake[0]["private_ip_address"] != "10.0.0.1" || snake[0]["launch_time"] != "2026-11-23T17:00:00Z" {
		t.Errorf("snake_case JSON: %v", snake)
	}
	if legacy[0]["machineId"] != "i-1" || legacy[0]["privateIpAddress"] != "10.0.0.1" || legacy[0]["launchtime"] != float64(time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC).Unix()) || legacy[0]["machine_id"] != nil {
		t.Errorf("legacy JSON: %v", legacy)
	}
	// Keys keep the record's order.
	out := render(t, cli.Output{Format: cli.JSON}, rows[:1])
	if strings.Index(out, `"machine_id"`) > strings.Index(out, `"name"`) {
		t.Errorf("keys out of order:\n%s", out)
	}
}

func TestYAML(t *testing.T) {
	var got []map[string]any
	if err := yaml.Unmarshal([]byte(render(t, cli.Output{Format: cli.YAML, Legacy: true}, []cli.Record{cli.MachineRow(machine("i-1"))})), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["machineId"] != "i-1" || got[0]["status"] != "running" {
		t.Errorf("YAML: %v", got)
	}
}

func TestTable(t *testing.T) {
	out := render(t, cli.Output{Format: cli.Table}, []cli.Record{cli.MachineRow(machine("i-1"))})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "MACHINE ID") || !strings.Contains(lines[1], "2026-11-23 17:00:00") || !strings.Contains(lines[1], "i-1") {
		t.Errorf("table:\n%s", out)
	}
	if got := render(t, cli.Output{Format: cli.Table}, nil); got != "(none)\n" {
		t.Errorf("empty table %q", got)
	}
}

func TestDetailNestsMachines(t *testing.T) {
	r := cli.RequestRow(store.Request{ID: "req-1", Kind: store.KindCreate, MachineCount: 2, State: store.StateRunning})
	r = append(r, cli.Field{Key: "machines", Value: []cli.Record{cli.MachineRow(machine("i-1"))}})
	var b bytes.Buffer
	if err := (cli.Output{W: &b, Format: cli.JSON}).One(r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		RequestID string `json:"request_id"`
		Machines  []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.RequestID != "req-1" || len(got.Machines) != 1 || got.Machines[0]["machine_id"] != "i-1" {
		t.Errorf("detail JSON %s: %v", b.String(), err)
	}
	b.Reset()
	if err := (cli.Output{W: &b, Format: cli.Table}).One(r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "request id:") || !strings.Contains(b.String(), "\nmachines:\nMACHINE ID") {
		t.Errorf("detail table:\n%s", b.String())
	}
}

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in       string
		terminal bool
		want     cli.Format
	}{{"", true, cli.Table}, {"", false, cli.JSON}, {"YAML", true, cli.YAML}, {"table", false, cli.Table}} {
		if got, err := cli.ParseFormat(c.in, c.terminal); err != nil || got != c.want {
			t.Errorf("ParseFormat(%q, %v) = %v, %v", c.in, c.terminal, got, err)
		}
	}
	if _, err := cli.ParseFormat("xml", true); err == nil {
		t.Error("xml accepted")
	}
}

// TestTablesFit: a table of the longest realistic values fits in 160
// columns; -o wide shows every column, uncut.
func TestTablesFit(t *testing.T) {
	m := machine("i-0123456789abcdef0")
	m.Name = "ip-10-100-200-250.eu-central-1.compute.internal"
	m.TemplateID = "OnDemand-Full-Template-VM-with-a-long-name"
	m.RequestID = "req-5f0c1d2e-3f4a-5b6c-7d8e-9f0a1b2c3d4e"
	m.ReturnID = "ret-5f0c1d2e-3f4a-5b6c-7d8e-9f0a1b2c3d4e"
	m.InstanceType = "u-24tb1.112xlarge"
	m.PriceType = "heterogeneous"
	m.UpdatedAt = launched.Add(time.Minute)
	m.Message = strings.Repeat("InsufficientInstanceCapacity: no capacity in the zone. ", 3)
	rows := []cli.Record{cli.MachineRow(m)}
	narrow := render(t, cli.Output{Format: cli.Table}, rows)
	for _, line := range strings.Split(strings.TrimRight(narrow, "\n"), "\n") {
		if n := len([]rune(line)); n > 160 {
			t.Errorf("table line of %d columns:\n%s", n, line)
		}
	}
	if !strings.Contains(narrow, "SEEN AT") || strings.Contains(narrow, "RETURN ID") {
		t.Errorf("narrow table columns:\n%s", narrow)
	}
	wide := render(t, cli.Output{Format: cli.Wide}, rows)
	if !strings.Contains(wide, "RETURN ID") || !strings.Contains(wide, m.Message) {
		t.Errorf("wide table:\n%s", wide)
	}
}

// TestReconcileExplainsWaiting: each waiting instance says how long until
// a pass would terminate it, as "4m30s" in a table and in JSON.
func TestReconcileExplainsWaiting(t *testing.T) {
	rec := broker.Reconciliation{Checked: 2, Waiting: []string{"i-1"}, Terminated: []string{"i-2"}, Strays: []broker.Stray{
		{InstanceID: "i-1", RequestID: "req-1", Action: broker.StrayWaiting, Reason: "unknown, but younger than INSTANCE_CREATION_TIMEOUT", TerminateIn: 4*time.Minute + 30*time.Second + 400*time.Millisecond},
		{InstanceID: "i-2", RequestID: "req-2", Action: broker.StrayTerminated, Reason: "its request failed"},
	}}
	var b bytes.Buffer
	if err := (cli.Output{W: &b, Format: cli.Table}).One(cli.ReconcileRecord(rec)); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "TERMINATE IN") || !strings.Contains(out, "4m30s") || !strings.Contains(out, "waiting:") {
		t.Errorf("reconcile table:\n%s", out)
	}
	b.Reset()
	if err := (cli.Output{W: &b, Format: cli.JSON}).One(cli.ReconcileRecord(rec)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Waiting   int `json:"waiting"`
		Instances []struct {
			TerminateIn any `json:"terminate_in"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.Waiting != 1 || got.Instances[0].TerminateIn != "4m30s" || got.Instances[1].TerminateIn != nil {
		t.Errorf("reconcile JSON (%v):\n%s", err, b.String())
	}
}
