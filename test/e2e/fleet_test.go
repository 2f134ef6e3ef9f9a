package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// fleetRole is the Spot Fleet role of the test templates.
const fleetRole = "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"

// apiTemplate is a template of 10 machines over every sandbox subnet,
// with instance tags, launched through api (and fleet type).
func apiTemplate(id, api, fleetType string, extra map[string]any) map[string]any {
	fields := map[string]any{
		"providerApi":  api,
		"subnetId":     strings.Join(sandbox.DefaultSubnetIDs, ","),
		"instanceTags": "team=grid;cost-center=hpc",
	}
	if fleetType != "" {
		fields["fleetType"] = fleetType
	}
	if api == "SpotFleet" {
		fields["fleetRole"] = fleetRole
	}
	for k, v := range extra {
		fields[k] = v
	}
	t := template(id, 20, fields)
	for k, v := range t {
		if v == nil {
			delete(t, k) // a field the test leaves out
		}
	}
	return t
}

// alive counts a request's sandbox instances that are pending or running.
func (e *env) alive(requestID string) []sandbox.Instance {
	var out []sandbox.Instance
	for _, in := range e.instancesOf(requestID) {
		if in.State == sandbox.StatePending || in.State == sandbox.StateRunning {
			out = append(out, in)
		}
	}
	return out
}

// leftovers lists the fleets, groups and launch templates still alive in
// the sandbox.
func (e *env) leftovers() []string {
	e.t.Helper()
	var out []string
	for _, f := range e.sb.Fleets() {
		if !strings.HasPrefix(f.State, "deleted") && !strings.HasPrefix(f.State, "cancelled") {
			out = append(out, f.Kind+" "+f.ID+" "+f.State)
		}
	}
	for _, g := range e.sb.Groups() {
		out = append(out, "group "+g.Name)
	}
	lts, err := e.ec2().DescribeLaunchTemplates(e.ctx(), &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, lt := range lts.LaunchTemplates {
		out = append(out, "launch template "+aws.ToString(lt.LaunchTemplateName))
	}
	return out
}

func TestEveryAPIRequestReturnWithoutReplacement(t *testing.T) {
	templates := []map[string]any{
		apiTemplate("ri", "RunInstances", "", nil),
		apiTemplate("fleet-instant", "EC2Fleet", "instant", nil),
		apiTemplate("fleet-request", "EC2Fleet", "request", nil),
		apiTemplate("fleet-maintain", "EC2Fleet", "maintain", nil),
		apiTemplate("spot-request", "SpotFleet", "request", map[string]any{"priceType": "spot"}),
		apiTemplate("spot-maintain", "SpotFleet", "maintain", map[string]any{"priceType": "spot"}),
		apiTemplate("asg", "ASG", "", nil),
	}
	for _, tpl := range templates {
		id := tpl["templateId"].(string)
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{PendingDelay: 200 * time.Millisecond, FleetDelay: 100 * time.Millisecond},
				[]map[string]any{tpl}, nil)

			reqID := e.request(id, 10)
			req := e.wait(reqID)
			if req.Status != "complete" || len(req.Machines) != 10 {
				t.Fatalf("request ended %s with %d machines: %s", req.Status, len(req.Machines), req.Message)
			}
			for _, m := range req.Machines {
				if m.Result != "succeed" {
					t.Errorf("machine %s: %s (%s)", m.MachineID, m.Result, m.Message)
				}
			}
			for _, in := range e.instancesOf(reqID) {
				if in.Tags["team"] != "grid" || in.Tags["cost-center"] != "hpc" || in.Tags["ohfp:template-id"] != id {
					t.Errorf("instance %s tags %v lack the template's", in.ID, in.Tags)
				}
			}

			ret := e.wait(mustReturn(t, e, req.Machines[:4]))
			if ret.Status != "complete" {
				t.Fatalf("return ended %s: %+v", ret.Status, ret)
			}
			// Past any replacement delay, polled again: the 4 stay gone.
			e.sb.Advance(10 * time.Minute)
			if _, err := e.hf.Status(e.ctx(), reqID); err != nil {
				t.Fatal(err)
			}
			e.sb.Advance(10 * time.Minute)
			if n := len(e.alive(reqID)); n != 6 {
				t.Fatalf("%d instances of the request alive after returning 4 of 10", n)
			}
			if n := len(e.instancesOf(reqID)); n != 10 {
				t.Errorf("%d instances ever launched for the request, want 10: some were replaced", n)
			}

			if r := e.wait(mustReturn(t, e, req.Machines[4:])); r.Status != "complete" {
				t.Fatalf("second return ended %s: %+v", r.Status, r)
			}
			if n := len(e.alive(reqID)); n != 0 {
				t.Errorf("%d instances alive after returning all", n)
			}
			if left := e.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

func TestHeterogeneousSplitsOnDemandAndSpot(t *testing.T) {
	for _, api := range []string{"EC2Fleet", "SpotFleet", "ASG"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			fleetType := ""
			if api != "ASG" {
				fleetType = "maintain"
			}
			e := newEnv(t, sandbox.Options{}, []map[string]any{
				apiTemplate("het", api, fleetType, map[string]any{"priceType": "heterogeneous", "percentOnDemand": 30}),
			}, nil)

			req := e.wait(e.request("het", 10))

			count := map[string]int{}
			for _, m := range req.Machines {
				count[m.PriceType]++
			}
			if req.Status != "complete" || count["ondemand"] != 3 || count["spot"] != 7 {
				t.Errorf("request %s with %v, want 3 ondemand and 7 spot", req.Status, count)
			}
		})
	}
}

func TestFirstTypeWithoutCapacityFallsBack(t *testing.T) {
	for _, api := range []string{"RunInstances", "EC2Fleet", "SpotFleet", "ASG"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			fleetType := map[string]string{"EC2Fleet": "request", "SpotFleet": "request"}[api]
			e := newEnv(t, sandbox.Options{}, []map[string]any{
				apiTemplate("fb", api, fleetType, map[string]any{
					"vmType":          nil,
					"vmTypes":         map[string]int{"t3.micro": 1, "t3.small": 1},
					"vmTypesPriority": map[string]int{"t3.micro": 1, "t3.small": 2},
				}),
			}, nil)
			if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
				t.Fatal(err)
			}

			req := e.wait(e.request("fb", 10))

			if req.Status != "complete" || len(req.Machines) != 10 {
				t.Fatalf("request ended %s with %d machines: %s", req.Status, len(req.Machines), req.Message)
			}
			for _, m := range req.Machines {
				if m.InstanceType != "t3.small" {
					t.Errorf("machine %s is a %s, want the next type t3.small", m.MachineID, m.InstanceType)
				}
			}
		})
	}
}

func TestNoCapacityAnywhereLeavesNothingBehind(t *testing.T) {
	for _, tc := range []struct{ api, fleetType string }{
		{"EC2Fleet", "instant"},
		{"EC2Fleet", "request"},
		{"EC2Fleet", "maintain"},
		{"SpotFleet", "request"},
		{"SpotFleet", "maintain"},
		{"ASG", ""},
	} {
		t.Run(tc.api+"-"+tc.fleetType, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sandbox.Options{}, []map[string]any{apiTemplate("none", tc.api, tc.fleetType, nil)}, nil)
			if err := e.sb.SetCapacity("t3.micro", "", 0); err != nil {
				t.Fatal(err)
			}

			message := requestFailing(t, e, "none", 10)

			if !strings.Contains(message, "0 of 10") && !strings.Contains(message, "no instance") {
				t.Errorf("message %q does not say nothing was launched", message)
			}
			if !strings.Contains(message, "InsufficientInstanceCapacity") {
				t.Errorf("message %q lacks the AWS reason", message)
			}
			if n := len(e.sb.Instances()); n != 0 {
				t.Errorf("%d instances launched", n)
			}
			if left := e.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// requestFailing asks for n machines of a template that gets none, and
// returns the message that says why: the requestMachines error when the
// launch fails at once, else the complete_with_error status.
func requestFailing(t *testing.T, e *env, templateID string, n int) string {
	t.Helper()
	res := e.call("requestMachines", map[string]any{"template": map[string]any{"templateId": templateID, "machineCount": n}})
	if res.Exit != 0 {
		var out hostfactory.Error
		if err := hostfactory.Decode(res.Stdout, &out); err != nil || out.Error.Code != "PROVISIONING_FAILED" {
			t.Fatalf("requestMachines failed with %s", res.Stdout)
		}
		return out.Message
	}
	var id hostfactory.RequestID
	if err := hostfactory.Decode(res.Stdout, &id); err != nil {
		t.Fatal(err)
	}
	req := e.wait(id.RequestID)
	if req.Status != "complete_with_error" || len(req.Machines) != 0 {
		t.Fatalf("request ended %s with %d machines, want complete_with_error and none", req.Status, len(req.Machines))
	}
	return req.Message
}

func TestExampleTemplatesLoadAndLaunch(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	files, err := filepath.Glob(filepath.Join(filepath.Dir(here), "..", "..", "examples", "templates", "*.json"))
	if err != nil || len(files) < 6 {
		t.Fatalf("example templates: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "awsprov_templates.json"), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "awsprov_config.json"), []byte(`{"AWS_REGION": "us-east-1"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(func(k string) string {
				return map[string]string{"HF_PROVIDER_NAME": "awsinst", "HF_PROVIDER_CONFDIR": dir}[k]
			})
			if err != nil {
				t.Fatalf("config.Load: %v", err)
			}
			var doc struct {
				Templates []map[string]any `json:"templates"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if len(cfg.Templates) != len(doc.Templates) || len(cfg.Ignored) > 0 {
				t.Fatalf("loaded %d of %d templates; ignored %v", len(cfg.Templates), len(doc.Templates), cfg.Ignored)
			}

			// Each runs as written against the sandbox.
			e := newEnv(t, sandbox.Options{}, doc.Templates, nil)
			for _, tpl := range cfg.Templates {
				if r := e.wait(e.request(tpl.ID, 3)); r.Status != "complete" || len(r.Machines) != 3 {
					t.Errorf("%s: request ended %s with %d machines: %s", tpl.ID, r.Status, len(r.Machines), r.Message)
				}
			}
		})
	}
}

func TestShortFleetReportsWhatCame(t *testing.T) {
	for _, api := range []string{"EC2Fleet", "SpotFleet", "ASG"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			fleetType := "request"
			if api == "ASG" {
				fleetType = ""
			}
			// Instances stay pending a while: the fleet gives up before
			// they run, and they must still be reported.
			e := newEnv(t, sandbox.Options{PendingDelay: 2 * time.Second}, []map[string]any{
				apiTemplate("short", api, fleetType, nil),
			}, nil)
			if err := e.sb.SetCapacity("t3.micro", "", 4); err != nil {
				t.Fatal(err)
			}

			req := e.wait(e.request("short", 10))

			succeeded := 0
			for _, m := range req.Machines {
				if m.Result == "succeed" {
					succeeded++
				}
			}
			if req.Status != "complete_with_error" || succeeded != 4 || !strings.HasPrefix(req.Message, "4 of 10 machines obtained.") {
				t.Errorf("request ended %s with %d of %d machines succeeded: %q", req.Status, succeeded, len(req.Machines), req.Message)
			}
			if !strings.Contains(req.Message, "InsufficientInstanceCapacity") {
				t.Errorf("message %q lacks the fleet's errors", req.Message)
			}
		})
	}
}

func TestOneReturnAcrossAPIs(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{
		apiTemplate("maintain", "EC2Fleet", "maintain", nil),
		apiTemplate("spot", "SpotFleet", "maintain", map[string]any{"priceType": "spot"}),
		apiTemplate("group", "ASG", "", nil),
	}, nil)
	reqs := map[string]hostfactory.Request{}
	var hosts []hostfactory.Machine
	for _, id := range []string{"maintain", "spot", "group"} {
		r := e.wait(e.request(id, 3))
		if r.Status != "complete" || len(r.Machines) != 3 {
			t.Fatalf("%s: request ended %s with %d machines: %s", id, r.Status, len(r.Machines), r.Message)
		}
		reqs[r.RequestID] = r
		hosts = append(hosts, r.Machines[:2]...)
	}

	if r := e.wait(mustReturn(t, e, hosts)); r.Status != "complete" || len(r.Machines) != 6 {
		t.Fatalf("return ended %s with %d machines", r.Status, len(r.Machines))
	}
	e.sb.Advance(10 * time.Minute)
	for id := range reqs {
		if n := len(e.alive(id)); n != 1 {
			t.Errorf("request %s has %d instances alive, want the 1 not returned", id, n)
		}
		if n := len(e.instancesOf(id)); n != 3 {
			t.Errorf("request %s had %d instances launched, want 3: returned ones were replaced", id, n)
		}
	}
}
