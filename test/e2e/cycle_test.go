package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestFullCycleThroughScripts(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 300 * time.Millisecond}, []map[string]any{
		template("OnDemand-Minimal", 10, map[string]any{"instanceTags": "team=grid;cost-center=hpc"}),
	}, nil)

	tl, err := e.hf.Templates(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Templates) != 1 {
		t.Fatalf("templates: %+v", tl)
	}
	tpl := tl.Templates[0]
	// t3.micro: 2 vCPUs, 1 core, 1 GiB, derived because the template gives no attributes.
	want := map[string][2]string{"type": {"String", "X86_64"}, "ncpus": {"Numeric", "2"}, "ncores": {"Numeric", "1"}, "nram": {"Numeric", "1024"}}
	for k, v := range want {
		if tpl.Attributes[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, tpl.Attributes[k], v)
		}
	}
	if tpl.AvailableNumber == nil || *tpl.AvailableNumber != 10 {
		t.Errorf("availableNumber = %v, want 10", tpl.AvailableNumber)
	}

	reqID := e.request("OnDemand-Minimal", 3)
	if !strings.HasPrefix(reqID, "req-") {
		t.Fatalf("request id %q", reqID)
	}
	req := e.wait(reqID)
	if req.Status != "complete" || len(req.Machines) != 3 {
		t.Fatalf("request ended %s with %d machines: %+v", req.Status, len(req.Machines), req)
	}
	for _, m := range req.Machines {
		if m.Result != "succeed" || m.Status != "running" || !strings.HasPrefix(m.Name, "ip-10-") ||
			!strings.HasSuffix(m.Name, ".ec2.internal") || m.PrivateIPAddress == "" || m.LaunchTime == 0 ||
			m.InstanceType != "t3.micro" || m.PriceType != "ondemand" {
			t.Errorf("machine %+v", m)
		}
		if want := "ip-" + strings.ReplaceAll(m.PrivateIPAddress, ".", "-") + ".ec2.internal"; m.Name != want {
			t.Errorf("name %s does not match ip %s", m.Name, m.PrivateIPAddress)
		}
	}
	insts := e.instancesOf(reqID)
	if len(insts) != 3 {
		t.Fatalf("sandbox has %d instances of the request", len(insts))
	}
	for _, in := range insts {
		for k, v := range map[string]string{"ohfp:template-id": "OnDemand-Minimal", "ohfp:provider": "awsinst", "team": "grid", "cost-center": "hpc"} {
			if in.Tags[k] != v {
				t.Errorf("instance %s tag %s = %q, want %q", in.ID, k, in.Tags[k], v)
			}
		}
	}
	tl, _ = e.hf.Templates(e.ctx())
	if got := *tl.Templates[0].AvailableNumber; got != 7 {
		t.Errorf("availableNumber with 3 out = %d, want 7", got)
	}

	retID, err := e.hf.ReturnMachines(e.ctx(), hostfactory.Hosts(req.Machines))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(retID, "ret-") {
		t.Fatalf("return id %q", retID)
	}
	ret := e.wait(retID)
	if ret.Status != "complete" || len(ret.Machines) != 3 {
		t.Fatalf("return ended %s: %+v", ret.Status, ret)
	}
	for _, m := range ret.Machines {
		if m.Result != "succeed" {
			t.Errorf("returned machine %+v", m)
		}
	}
	for _, in := range e.instancesOf(reqID) {
		if in.State != "terminated" {
			t.Errorf("instance %s is %s after the return", in.ID, in.State)
		}
	}
	rr, err := e.hf.ReturnRequests(e.ctx(), hostfactory.Hosts(req.Machines))
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Requests) != 3 {
		t.Fatalf("getReturnRequests: %+v", rr)
	}
	for _, r := range rr.Requests {
		if r.GracePeriod != 0 || r.MachineID == "" || r.Machine == "" {
			t.Errorf("reclaim %+v", r)
		}
	}
	tl, _ = e.hf.Templates(e.ctx())
	if got := *tl.Templates[0].AvailableNumber; got != 10 {
		t.Errorf("availableNumber after the return = %d, want 10", got)
	}
}

func TestSpotRequestAndSSMImage(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{
		template("Spot", 5, map[string]any{
			"priceType": "spot", "vmType": "c5.2xlarge", "maxSpotPrice": "0.5",
			"imageId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		}),
	}, nil)
	req := e.wait(e.request("Spot", 2))
	if req.Status != "complete" || len(req.Machines) != 2 {
		t.Fatalf("%+v", req)
	}
	for _, m := range req.Machines {
		if m.PriceType != "spot" || m.InstanceType != "c5.2xlarge" {
			t.Errorf("machine %+v", m)
		}
	}
	for _, in := range e.instancesOf(req.RequestID) {
		if !in.Spot || in.ImageID != sandbox.DefaultImageID {
			t.Errorf("instance %+v", in)
		}
	}
}

func TestRunningHostsReportedUntilGone(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	req := e.wait(e.request("T", 2))
	hosts := hostfactory.Hosts(req.Machines)
	rr, err := e.hf.ReturnRequests(e.ctx(), hosts)
	if err != nil || len(rr.Requests) != 0 {
		t.Fatalf("running hosts reported: %+v %v", rr, err)
	}
	// A host terminated behind HostFactory's back (from the console).
	e.terminate(req.Machines[0].MachineID)
	rr, err = e.hf.ReturnRequests(e.ctx(), hosts)
	if err != nil || len(rr.Requests) != 1 || rr.Requests[0].MachineID != req.Machines[0].MachineID || rr.Requests[0].GracePeriod != 0 {
		t.Fatalf("terminated host not reported: %+v %v", rr, err)
	}
	// When the cloud cannot be asked, nobody is reported gone.
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeInstances", Code: "UnauthorizedOperation"}); err != nil {
		t.Fatal(err)
	}
	res := e.call("getReturnRequests", map[string]any{"machines": hosts})
	var out hostfactory.Reclaims
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 3 || len(out.Requests) != 0 ||
		!strings.Contains(out.Message, "UnauthorizedOperation") || out.Error == nil || out.Error.Code != "CLOUD_ERROR" {
		t.Fatalf("with describe failing: exit %d %s", res.Exit, res.Stdout)
	}
	// An empty input is valid and reports nothing.
	if res := e.call("getReturnRequests", map[string]any{}); res.Exit != 0 {
		t.Fatalf("empty getReturnRequests: %s", res.Stdout)
	}
}

func TestTemplatesEditedWhileHostsAreOut(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("Old", 5, nil)}, nil)
	req := e.wait(e.request("Old", 2))
	// The administrator removes the template while its hosts are out.
	path := filepath.Join(e.root, "conf", "awsinstprov_templates.json")
	if err := os.WriteFile(path, []byte(`{"templates": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := e.hf.Status(e.ctx(), req.RequestID)
	if err != nil || st.Requests[0].Status != "complete" || len(st.Requests[0].Machines) != 2 {
		t.Fatalf("status after the edit: %+v %v", st, err)
	}
	ret := e.wait(mustReturn(t, e, req.Machines))
	if ret.Status != "complete" {
		t.Fatalf("return after the edit: %+v", ret)
	}
}

func mustReturn(t *testing.T, e *env, ms []hostfactory.Machine) string {
	t.Helper()
	id, err := e.hf.ReturnMachines(e.ctx(), hostfactory.Hosts(ms))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestReturnByNameAndAlreadyGone(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	req := e.wait(e.request("T", 2))
	// HostFactory may give only the name.
	id := mustReturn(t, e, []hostfactory.Machine{{Name: req.Machines[0].Name}})
	if ret := e.wait(id); ret.Status != "complete" || ret.Machines[0].Result != "succeed" || ret.Machines[0].MachineID != req.Machines[0].MachineID {
		t.Fatalf("return by name: %+v", ret)
	}
	// Returning a machine already gone still yields an id.
	res := e.call("requestReturnMachines", map[string]any{"machines": []map[string]string{{"name": req.Machines[0].Name, "machineId": req.Machines[0].MachineID}}})
	var out hostfactory.RequestID
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 0 || !strings.HasPrefix(out.RequestID, "ret-") || out.Message != "No Active VM." {
		t.Fatalf("returning a gone machine: exit %d %s", res.Exit, res.Stdout)
	}
	if ret := e.wait(out.RequestID); ret.Status != "complete" {
		t.Fatalf("%+v", ret)
	}
}

func TestInstancesNotLaunchedByUsAreLeftAlone(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	foreign := e.launchForeign()
	id := *foreign.InstanceId
	ret := e.wait(mustReturn(t, e, []hostfactory.Machine{{Name: *foreign.PrivateDnsName, MachineID: id}}))
	if ret.Machines[0].Result != "fail" || !strings.Contains(ret.Machines[0].Message, "not launched by") {
		t.Fatalf("foreign instance: %+v", ret)
	}
	for _, in := range e.sb.Instances() {
		if in.ID == id && in.State != "running" {
			t.Fatalf("foreign instance was touched: %s", in.State)
		}
	}
}

// Instances stuck pending past AWS_INSTANCE_PENDING_TIMEOUT_SEC fail and
// are terminated; younger ones wait. The sandbox's clock starts an hour
// behind, so what it launches first is an hour old to ohfp, and nothing
// depends on how long the calls take.
func TestPendingTimeoutTerminates(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 10 * time.Hour, Now: behind(time.Hour)}, []map[string]any{template("T", 5, nil)},
		map[string]any{"AWS_INSTANCE_PENDING_TIMEOUT_SEC": 600})
	old := e.request("T", 2)
	e.sb.Advance(time.Hour)
	fresh := e.request("T", 2)
	st, err := e.hf.Status(e.ctx(), fresh, old)
	if err != nil || len(st.Requests) != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	if r := st.Requests[0]; r.Status != "running" || r.Machines[0].Result != "executing" || r.Machines[1].Result != "executing" {
		t.Errorf("fresh pending request: %+v", r)
	}
	r := st.Requests[1]
	if r.Status != "complete_with_error" || len(r.Machines) != 2 {
		t.Fatalf("request pending for an hour: %+v", r)
	}
	for _, m := range r.Machines {
		if m.Result != "fail" || !strings.Contains(m.Message, "pending") {
			t.Errorf("machine %+v", m)
		}
	}
	for _, in := range e.instancesOf(old) {
		if in.State != "terminated" && in.State != "shutting-down" {
			t.Errorf("stuck instance %s left %s", in.ID, in.State)
		}
	}
	for _, in := range e.instancesOf(fresh) {
		if in.State != "pending" {
			t.Errorf("young instance %s is %s", in.ID, in.State)
		}
	}
}

// behind is a clock that lags the real one by d, for a sandbox whose first
// launches must look old to ohfp (sandbox.Advance brings it level).
func behind(d time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(-d) }
}

// New instances that EC2 does not show yet are executing, not failed. They
// stay invisible until the sandbox's clock is moved on, however long the
// calls take.
func TestNewInstancesInvisibleForAMomentStayExecuting(t *testing.T) {
	e := newEnv(t, sandbox.Options{ConsistencyDelay: time.Hour}, []map[string]any{template("T", 5, nil)}, nil)
	id := e.request("T", 2)
	st, err := e.hf.Status(e.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	r := st.Requests[0]
	if r.Status != "running" || len(r.Machines) != 2 {
		t.Fatalf("%+v", r)
	}
	for _, m := range r.Machines {
		if m.Result != "executing" {
			t.Fatalf("invisible new instance reported %s", m.Result)
		}
	}
	e.sb.Advance(2 * time.Hour)
	if req := e.wait(id); req.Status != "complete" {
		t.Fatalf("%+v", req)
	}
}

func TestInputOnStandardInput(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	cmd := exec.Command(filepath.Join(scriptDir, "getAvailableTemplates.sh"), "-f", "-")
	cmd.Env = e.hf.Env
	cmd.Stdin = strings.NewReader("{}")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var tl hostfactory.Templates
	if err := hostfactory.Decode(out, &tl); err != nil || len(tl.Templates) != 1 {
		t.Fatalf("%s %v", out, err)
	}
}

func TestEmptyTemplatesInputFileWorks(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	empty := filepath.Join(e.root, "empty.json")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(scriptDir, "getAvailableTemplates.sh"), "-f", empty)
	cmd.Env = e.hf.Env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var tl hostfactory.Templates
	if err := hostfactory.Decode(out, &tl); err != nil || !slices.ContainsFunc(tl.Templates, func(t hostfactory.Template) bool { return t.TemplateID == "T" }) {
		t.Fatalf("%s %v", out, err)
	}
}

// The scripts find the binary next to themselves, even in a folder whose
// path has spaces, as HostFactory installations under "/opt/IBM/Spectrum
// Symphony" do.
func TestScriptsNextToBinaryInPathWithSpaces(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	dir := filepath.Join(e.root, "IBM Spectrum", "provider scripts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(scriptDir, "*.sh"))
	if err != nil || len(files) != 6 { // the five and invoke_provider.sh
		t.Fatalf("scripts: %v %v", files, err)
	}
	for _, src := range append(files, binary) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.hf.ScriptDir = dir
	e.hf.Env = slices.DeleteFunc(e.hf.Env, func(kv string) bool { return strings.HasPrefix(kv, "OHFP_BIN=") })
	if r := e.wait(e.request("T", 1)); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
}
