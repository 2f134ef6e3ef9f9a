package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
)

func TestUnknownTemplate(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("basic-template", 5, nil), template("gpu", 2, nil)}, nil)
	out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "gpu-x", "machineCount": 1}}, 2)
	if out.Error.Code != "TEMPLATE_NOT_FOUND" || out.Message != "Template 'gpu-x' not found" {
		t.Fatalf("%+v", out)
	}
	avail, _ := out.Error.Details["available_templates"].([]any)
	if len(avail) != 2 || avail[0] != "basic-template" || avail[1] != "gpu" {
		t.Fatalf("details: %+v", out.Error.Details)
	}
}

func TestInvalidInputs(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	bad := []struct {
		name  string
		op    string
		input string
	}{
		{"malformed", "requestMachines", `{"template": {"templateId": "T", "machineCount": 1`},
		{"two documents", "getRequestStatus", `{"requests": []} {}`},
		{"count is a string", "requestMachines", `{"template": {"templateId": "T", "machineCount": "one"}}`},
		{"count zero", "requestMachines", `{"template": {"templateId": "T", "machineCount": 0}}`},
		{"count negative", "requestMachines", `{"template": {"templateId": "T", "machineCount": -3}}`},
		{"count above maxNumber", "requestMachines", `{"template": {"templateId": "T", "machineCount": 6}}`},
		{"template id with shell metacharacters", "requestMachines", `{"template": {"templateId": "T; rm -rf /", "machineCount": 1}}`},
		{"no template", "requestMachines", `{}`},
		{"requests of wrong type", "getRequestStatus", `{"requests": "req-1"}`},
		{"no requests", "getRequestStatus", `{"requests": []}`},
		{"return nothing", "requestReturnMachines", `{"machines": []}`},
		{"return without name", "requestReturnMachines", `{"machines": [{"machineId": "i-0123456789abcdef0"}]}`},
		{"return with a bad id", "requestReturnMachines", `{"machines": [{"name": "h1", "machineId": "$(reboot)"}]}`},
		{"name with shell metacharacters", "getReturnRequests", "{\"machines\": [{\"name\": \"h1`id`\"}]}"},
		{"templates input not an object", "getAvailableTemplates", `[1, 2]`},
		{"template id given twice", "requestMachines", `{"template": {"templateId": "T", "templateId": "U", "machineCount": 1}}`},
		{"template id in another case", "requestMachines", `{"template": {"TemplateId": "T", "machineCount": 1}}`},
		{"machine id given twice", "requestReturnMachines", `{"machines": [{"name": "h1", "machineId": "i-0123456789abcdef0", "machineId": "i-0123456789abcdef1"}]}`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			out := e.failure(c.op, hostfactory.Raw(c.input), 2)
			if out.Error.Code != "INVALID_REQUEST" {
				t.Fatalf("code %s: %+v", out.Error.Code, out)
			}
		})
	}
	// Nothing was stored by any of them.
	rs, err := e.store().ListRequests(e.ctx(), store.RequestQuery{})
	if err != nil || len(rs) != 0 {
		t.Fatalf("invalid inputs stored %d requests (%v)", len(rs), err)
	}
}

func TestBrokenConfiguration(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	path := filepath.Join(e.root, "conf", "awsinstprov_config.json")
	if err := os.WriteFile(path, []byte(`{"AWS_REGION": "us-east-1", "AWS_CONNECTION_TIMEOUT_MS": }`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"getAvailableTemplates", "getRequestStatus"} {
		input := map[string]any{}
		if op == "getRequestStatus" {
			input = map[string]any{"requests": []map[string]string{{"requestId": "req-1"}}}
		}
		out := e.failure(op, input, 1)
		if out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, "awsinstprov_config.json") {
			t.Fatalf("%s: %+v", op, out)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	out := e.failure("getAvailableTemplates", map[string]any{}, 1)
	if out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, "awsprov_config.json") {
		t.Fatalf("missing config: %+v", out)
	}
}

func TestCapacityErrorLeavesNothingBehind(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
		t.Fatal(err)
	}
	out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 2}}, 3)
	if out.Error.Code != "PROVISIONING_FAILED" || !strings.Contains(out.Message, "InsufficientInstanceCapacity") {
		t.Fatalf("%+v", out)
	}
	st := e.store()
	rs, err := st.ListRequests(e.ctx(), store.RequestQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.State.Finished() || r.Outstanding != 0 {
			t.Fatalf("request left half-written: %+v", r)
		}
	}
	usage, err := st.Held(e.ctx(), []string{store.TemplateKey("T")})
	if err != nil || usage[store.TemplateKey("T")] != 0 {
		t.Fatalf("failed request still holds capacity: %v %v", usage, err)
	}
	if n := len(e.sb.Instances()); n != 0 {
		t.Fatalf("%d instances launched", n)
	}
	// Capacity comes back: the template is whole again.
	e.sb.ClearCapacity()
	if r := e.wait(e.request("T", 5)); r.Status != "complete" || len(r.Machines) != 5 {
		t.Fatalf("%+v", r)
	}
}

func TestUnknownRequestIDAnsweredAlongsideKnownOnes(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	id := e.request("T", 1)
	e.wait(id)
	st, err := e.hf.Status(e.ctx(), "req-does-not-exist", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Requests) != 2 {
		t.Fatalf("%+v", st)
	}
	unknown, known := st.Requests[0], st.Requests[1]
	if unknown.RequestID != "req-does-not-exist" || unknown.Status != "complete_with_error" || unknown.Message == "" {
		t.Errorf("unknown: %+v", unknown)
	}
	if known.RequestID != id || known.Status != "complete" || len(known.Machines) != 1 {
		t.Errorf("known: %+v", known)
	}
}

func TestRequestsAsOneObject(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	id := e.request("T", 1)
	res := e.call("getRequestStatus", map[string]any{"requests": map[string]string{"requestId": id}})
	if res.Exit != 0 || !strings.Contains(string(res.Stdout), id) {
		t.Fatalf("%s", res.Stdout)
	}
}

func TestMaxNumberCountsMachinesOut(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 3, nil)}, nil)
	e.wait(e.request("T", 2))
	out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 2}}, 3)
	if out.Error.Code != "QUOTA_EXCEEDED" || !strings.Contains(out.Message, "maxNumber 3") {
		t.Fatalf("%+v", out)
	}
	if got := len(e.sb.Instances()); got != 2 {
		t.Fatalf("%d instances", got)
	}
}

func TestTemplateBreakingARuleFailsAlone(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{
		template("T", 5, nil),
		template("typo", 5, map[string]any{"vmType": "c5.2xlargee"}),
		template("outside", 5, map[string]any{"userDataScript": "/etc/hostname"}),
		template("group", 5, map[string]any{"providerApi": "ASG", "subnetId": nil}),
	}, nil)

	ts, err := e.hf.Templates(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Templates) != 1 || ts.Templates[0].TemplateID != "T" {
		t.Fatalf("getAvailableTemplates served %+v, want T alone", ts.Templates)
	}
	log, err := os.ReadFile(filepath.Join(e.root, "log", "ohfp.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"templates[1].vmType", "templates[2].userDataScript", "templates[3].subnetId"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log does not name %s:\n%s", want, log)
		}
	}

	out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "typo", "machineCount": 1}}, 1)
	if out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, `templates[1].vmType: must be an EC2 instance type`) {
		t.Fatalf("request of a template left out: %+v", out)
	}
	if rs, err := e.store().ListRequests(e.ctx(), store.RequestQuery{}); err != nil || len(rs) != 0 {
		t.Fatalf("a request of a template left out was stored (%d, %v)", len(rs), err)
	}
	if id := e.request("T", 1); e.wait(id).Status != "complete" {
		t.Errorf("the good template does not serve")
	}
}
