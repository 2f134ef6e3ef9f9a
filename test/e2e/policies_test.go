package e2e

import (
	"cmp"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
)

// policyRacers is how many single-machine requests race against a policy
// limit of policyLimit, at once, through the scripts.
const policyRacers, policyLimit = 100, 20

// TestPoliciesExactUnderConcurrency: 100 single-machine requests at once
// against a policy limit of 20 (a MaxNumber, a StepValue, then a MaxVCPUs
// of 80 over t3.xlarge machines of 4 vCPUs each) launch exactly 20, on
// SQLite (one host, 100 processes) and on DynamoDB (two hosts sharing one
// table prefix). The template's own maxNumber is far above, so only the
// policy decides.
func TestPoliciesExactUnderConcurrency(t *testing.T) {
	limits := map[string]map[string]any{
		// A window of about 69 days: the race never straddles two.
		"StepValue": {"StepValue": "20:100000"},
		"MaxNumber": {"MaxNumber": "20"},
		// Counted in machines rather than vCPUs, 80 would be granted.
		"MaxVCPUs": {"MaxVCPUs": 80},
	}
	vmType := map[string]string{"MaxVCPUs": "t3.xlarge"}
	stores := map[string]func(t *testing.T) map[string]any{
		"SQLite":   func(*testing.T) map[string]any { return nil },
		"DynamoDB": dynamoTables,
	}
	for _, storeName := range []string{"SQLite", "DynamoDB"} {
		for _, kind := range []string{"MaxNumber", "StepValue", "MaxVCPUs"} {
			t.Run(storeName+"/"+kind, func(t *testing.T) {
				limit := map[string]any{"Name": "cap", "Consumer": map[string]any{"rcAccount": []string{"all"}}}
				for k, v := range limits[kind] {
					limit[k] = v
				}
				file := filepath.Join(t.TempDir(), "policies.json")
				writeJSON(t, file, map[string]any{"Policies": []any{limit}})
				config := map[string]any{"OHFP_POLICIES_FILE": file}
				for k, v := range stores[storeName](t) {
					config[k] = v
				}
				e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 500, map[string]any{"vmType": cmp.Or(vmType[kind], "t3.micro")})}, config)
				hosts := []*hostfactory.Host{e.hf}
				if storeName == "DynamoDB" {
					if out, errOut, exit := run(t, e.hf.Env, "store", "init"); exit != 0 {
						t.Fatalf("store init: exit %d\n%s%s", exit, out, errOut)
					}
					hosts = append(hosts, e.otherHost())
				}
				start := time.Now()
				granted, refused, ids := race(t, hosts, policyRacers)
				t.Logf("%s, %s: %d granted, %d refused of %d concurrent requests in %s", storeName, kind, granted, refused, policyRacers, time.Since(start).Round(time.Millisecond))
				if granted != policyLimit || refused != policyRacers-policyLimit {
					t.Errorf("%d granted, %d refused; want exactly %d granted", granted, refused, policyLimit)
				}
				for _, id := range ids {
					e.wait(id)
				}
				if n := len(e.sb.Instances()); n != policyLimit {
					t.Errorf("%d instances launched, want %d", n, policyLimit)
				}
				out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 1}}, 3)
				if out.Error.Code != "QUOTA_EXCEEDED" || out.Error.Details["policy"] != "cap" || out.Error.Details["limit"] != kind {
					t.Errorf("refusal %+v, want QUOTA_EXCEEDED naming policy cap and limit %s", out.Error, kind)
				}
				if kind == "StepValue" && out.Error.Details["frees_at"] == nil {
					t.Errorf("a StepValue refusal says when its window frees: %v", out.Error.Details)
				}
			})
		}
	}
}

// TestPolicyTrimsAndAvailableNumber: a request above what a policy for
// every caller leaves is granted what fits, says so, and availableNumber
// shows the policy's room rather than the template's.
func TestPolicyTrimsAndAvailableNumber(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policies.json")
	writeJSON(t, file, map[string]any{"Policies": []any{map[string]any{"Name": "five", "MaxNumber": 5}}})
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 50, nil)}, map[string]any{"OHFP_POLICIES_FILE": file})
	res := e.call("requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 8}})
	var answer struct{ Message, RequestID string }
	if err := hostfactory.Decode(res.Stdout, &answer); err != nil || res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stdout)
	}
	if !strings.Contains(answer.Message, "5 of 8 machines granted") || !strings.Contains(answer.Message, "policy 'five'") {
		t.Errorf("message %q", answer.Message)
	}
	if r := e.wait(answer.RequestID); r.Status != "complete" || len(r.Machines) != 5 {
		t.Errorf("request ended %s with %d machines", r.Status, len(r.Machines))
	}
	tl, err := e.hf.Templates(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if got := *tl.Templates[0].AvailableNumber; got != 0 {
		t.Errorf("availableNumber = %d with the policy's 5 held, want 0", got)
	}
	// ohfp templates list shows the policy's headroom beside the
	// template's own room.
	out, errOut, exit := run(t, e.hf.Env, "templates", "list", "-o", "json")
	var listed []struct {
		TemplateID      string `json:"template_id"`
		AvailableNumber int    `json:"available_number"`
		PolicyHeadroom  any    `json:"policy_headroom"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || exit != 0 || len(listed) != 1 {
		t.Fatalf("templates list: exit %d, %v\n%s%s", exit, err, out, errOut)
	}
	if listed[0].PolicyHeadroom != float64(0) || listed[0].AvailableNumber != 0 {
		t.Errorf("templates list: %+v, want policy_headroom 0 and available_number 0", listed[0])
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScriptsUnderAccessRules: the access file names the HostFactory
// service user (here, the test's own user) as an operator of template A
// only: a request for B through the scripts is PERMISSION_DENIED, exit 2,
// launches nothing and is in the audit trail; A is served. Asking the
// status of a B request is refused too, and does not claim it.
func TestScriptsUnderAccessRules(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("A", 5, nil), template("B", 5, nil)}, nil)
	writeJSON(t, e.confFile("access.json"), map[string]any{"rules": []any{
		map[string]any{"user": me.Username, "role": "operator", "templates": []string{"A"}},
	}})
	out := e.failure("requestMachines", map[string]any{"template": map[string]any{"templateId": "B", "machineCount": 1}}, 2)
	if out.Error.Code != "PERMISSION_DENIED" || out.Error.Details["missing_grant"] != "B" || !strings.Contains(out.Message, me.Username+" (unix user) may not request") {
		t.Fatalf("request for B: %+v", out)
	}
	if n := len(e.sb.Instances()); n != 0 {
		t.Fatalf("%d instances launched by a denied request", n)
	}
	e.wait(e.request("A", 1))
	es, err := e.store().Events(e.ctx(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	denied := slices.IndexFunc(es, func(ev store.Event) bool { return ev.Action == "access.denied" })
	if denied < 0 || !strings.Contains(es[denied].Detail, me.Username) || !strings.Contains(es[denied].Actor, "requestMachines by "+me.Username) {
		t.Errorf("no access.denied event naming %s: %+v", me.Username, es)
	}
	// Without a rule naming it, the service user (the config file's owner)
	// has every right again.
	if err := os.Remove(e.confFile("access.json")); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, e.confFile("access.json"), map[string]any{"rules": []any{map[string]any{"group": "no-such-group", "role": "viewer"}}})
	e.wait(e.request("B", 1))

	// A request of B that HostFactory never asked about stays recoverable:
	// an operator of A may not claim it by asking its status.
	leaked := e.request("B", 1)
	if err := os.Remove(e.confFile("access.json")); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, e.confFile("access.json"), map[string]any{"rules": []any{
		map[string]any{"user": me.Username, "role": "operator", "templates": []string{"A"}},
	}})
	out = e.failure("getRequestStatus", map[string]any{"requests": []any{map[string]any{"requestId": leaked}}}, 2)
	if out.Error.Code != "PERMISSION_DENIED" || out.Error.Details["missing_grant"] != "B" {
		t.Fatalf("status of B's request: %+v", out)
	}
	if rs, err := e.store().GetRequests(e.ctx(), []string{leaked}); err != nil || len(rs) != 1 || rs[0].State != store.StatePlaced {
		t.Errorf("a denied status claimed the request: %+v %v", rs, err)
	}
}

// TestBadAccessFileStopsTheScriptsClearly: an access file that cannot be
// trusted (a key given twice, writable by every user) stops HostFactory's
// scripts with a CONFIGURATION_ERROR naming the file, exit 1, and launches
// nothing: never "no rules, everyone may do everything". A role written
// "Admin" for the service user keeps it an admin.
func TestBadAccessFileStopsTheScriptsClearly(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("A", 5, nil)}, nil)
	file := e.confFile("access.json")
	ask := map[string]any{"template": map[string]any{"templateId": "A", "machineCount": 1}}
	for name, bad := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		"key twice":          {`{"rules": [{"user": "` + me.Username + `", "role": "viewer"}], "rules": []}`, 0o644},
		"writable by anyone": {`{"rules": []}`, 0o666},
	} {
		if err := os.WriteFile(file, []byte(bad.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, bad.mode); err != nil {
			t.Fatal(err)
		}
		out := e.failure("requestMachines", ask, 1)
		if out.Error.Code != "CONFIGURATION_ERROR" || !strings.Contains(out.Message, file) {
			t.Errorf("%s: %+v, want a CONFIGURATION_ERROR naming %s", name, out, file)
		}
	}
	if n := len(e.sb.Instances()); n != 0 {
		t.Fatalf("%d instances launched under a bad access file", n)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, file, map[string]any{"service_user": me.Username, "rules": []any{map[string]any{"user": me.Username, "role": "Admin"}}})
	e.wait(e.request("A", 1))
}
