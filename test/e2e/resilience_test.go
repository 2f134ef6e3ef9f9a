package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
)

// A spot instance AWS marks for reclaim is reported at once, with the
// seconds left before AWS takes it.
// The sandbox's clock lags 30 s when AWS marks the host, then catches up:
// the mark is 30 s old, whatever the calls cost.
func TestSpotReclaimReportedWithGracePeriod(t *testing.T) {
	e := newEnv(t, sandbox.Options{Now: behind(30 * time.Second)}, []map[string]any{template("Spot", 5, map[string]any{"priceType": "spot"})}, nil)
	req := e.wait(e.request("Spot", 2))
	hosts := hostfactory.Hosts(req.Machines)
	victim := req.Machines[0].MachineID
	marked := time.Now().Add(-30 * time.Second)
	if err := e.sb.Interrupt(victim); err != nil {
		t.Fatal(err)
	}
	e.sb.Advance(30 * time.Second)
	asked := time.Now()
	rr, err := e.hf.ReturnRequests(e.ctx(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Requests) != 1 || rr.Requests[0].MachineID != victim {
		t.Fatalf("reclaims: %+v", rr)
	}
	// The process computed it between asked and now.
	most, least := 120-asked.Sub(marked).Seconds(), 120-time.Since(marked).Seconds()
	if got := float64(rr.Requests[0].GracePeriod); got < least-1 || got > most {
		t.Fatalf("grace period %v, want between %.1f and %.1f", got, least-1, most)
	}
	// If the spot requests cannot be read, nobody is reported gone. (A
	// refusal rather than throttling: the same answer without the retries'
	// back-off.)
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeSpotInstanceRequests", Code: "UnauthorizedOperation"}); err != nil {
		t.Fatal(err)
	}
	res := e.call("getReturnRequests", map[string]any{"machines": hosts})
	var out hostfactory.Reclaims
	if err := hostfactory.Decode(res.Stdout, &out); err != nil || res.Exit != 3 || len(out.Requests) != 0 {
		t.Fatalf("with spot requests unreadable: exit %d %s", res.Exit, res.Stdout)
	}
}

// A returned host that AWS already marked for reclaim is left for AWS to
// take, unless AWS_SPOT_TERMINATE_ON_RECLAIM says otherwise.
func TestReturnOfReclaimedSpotHost(t *testing.T) {
	for _, terminate := range []bool{false, true} {
		t.Run(fmt.Sprint("terminate=", terminate), func(t *testing.T) {
			e := newEnv(t, sandbox.Options{}, []map[string]any{template("Spot", 5, map[string]any{"priceType": "spot"})},
				map[string]any{"AWS_SPOT_TERMINATE_ON_RECLAIM": terminate})
			req := e.wait(e.request("Spot", 1))
			id := req.Machines[0].MachineID
			if err := e.sb.Interrupt(id); err != nil {
				t.Fatal(err)
			}
			mustReturn(t, e, req.Machines)
			state := ""
			for _, in := range e.sb.Instances() {
				if in.ID == id {
					state = in.State
				}
			}
			if want := map[bool]string{false: "running", true: "terminated"}[terminate]; state != want {
				t.Fatalf("returned reclaimed host is %s, want %s", state, want)
			}
		})
	}
}

// 100 requestMachines of one machine racing for a template of 20.
func TestMaxNumberHoldsUnderConcurrency(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 20, nil)}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	exits := map[int]int{}
	codes := map[string]int{}
	for range 100 {
		wg.Go(func() {
			res, err := e.hf.Call(e.ctx(), "requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 1}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			exits[res.Exit]++
			if res.Exit != 0 {
				var out hostfactory.Error
				if err := hostfactory.Decode(res.Stdout, &out); err != nil {
					t.Errorf("refusal is not an error envelope: %s", res.Stdout)
				}
				codes[out.Error.Code]++
			}
		})
	}
	wg.Wait()
	if exits[0] != 20 || exits[3] != 80 || codes["QUOTA_EXCEEDED"] != 80 {
		t.Fatalf("exits %v, codes %v", exits, codes)
	}
	if n := len(e.sb.Instances()); n != 20 {
		t.Fatalf("%d instances launched for a maxNumber of 20", n)
	}
}

// With 30% of AWS calls throttled, failing with 503 or dropped, a full
// cycle of 50 machines still ends right: the SDK retries, and HostFactory
// polls again.
func TestCycleUnderThrottling(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 200 * time.Millisecond}, []map[string]any{template("T", 60, nil)},
		map[string]any{"AWS_REQUEST_RETRY_ATTEMPTS": 8})
	for _, action := range []string{"ec2:RunInstances", "ec2:DescribeInstances", "ec2:TerminateInstances", "ec2:DescribeInstanceTypes"} {
		for _, f := range []sandbox.Fault{{Action: action, Code: "RequestLimitExceeded", Rate: 0.1}, {Action: action, Status: 503, Rate: 0.1}, {Action: action, Drop: true, Rate: 0.1}} {
			if err := e.sb.AddFault(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.hf.Templates(e.ctx()); err != nil {
		t.Fatal(err)
	}
	req := e.wait(e.request("T", 50))
	if req.Status != "complete" || len(req.Machines) != 50 {
		t.Fatalf("request ended %s with %d machines", req.Status, len(req.Machines))
	}
	ret := e.wait(mustReturn(t, e, req.Machines))
	if ret.Status != "complete" || len(ret.Machines) != 50 {
		t.Fatalf("return ended %s: %+v", ret.Status, ret)
	}
	for _, in := range e.instancesOf(req.RequestID) {
		if in.State != "terminated" {
			t.Errorf("instance %s left %s", in.ID, in.State)
		}
	}
	if calls := e.sb.Calls(); calls["ec2:RunInstances"] < 1 {
		t.Fatalf("calls %v", calls)
	}
}

// With every AWS call failing, every operation that needs AWS answers one
// JSON document with exit 3 within HF_TIMEOUT, and nothing stored is lost.
func TestEveryCallFailing(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 10, nil)}, nil)
	e.hf.Env = append(e.hf.Env, "HF_TIMEOUT=4")
	before := e.wait(e.request("T", 2))
	for _, action := range []string{"ec2:RunInstances", "ec2:DescribeInstances", "ec2:TerminateInstances", "ec2:DescribeSpotInstanceRequests", "ec2:DescribeInstanceTypes"} {
		if err := e.sb.AddFault(sandbox.Fault{Action: action, Status: 503}); err != nil {
			t.Fatal(err)
		}
	}
	hosts := hostfactory.Hosts(before.Machines)
	inputs := map[string]any{
		"requestMachines":       map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 1}},
		"requestReturnMachines": map[string]any{"machines": hosts},
		"getReturnRequests":     map[string]any{"machines": hosts},
	}
	for op, in := range inputs {
		start := time.Now()
		res := e.call(op, in)
		if res.Exit != 3 || time.Since(start) > 4*time.Second {
			t.Errorf("%s: exit %d after %s: %s", op, res.Exit, time.Since(start), res.Stdout)
		}
	}
	// The status of the request placed before the outage is answered as
	// last seen, with the error beside it.
	res := e.call("getRequestStatus", map[string]any{"requests": []map[string]string{{"requestId": before.RequestID}}})
	var st hostfactory.Status
	if err := hostfactory.Decode(res.Stdout, &st); err != nil || res.Exit != 0 && res.Exit != 3 {
		t.Fatalf("status during the outage: exit %d %s", res.Exit, res.Stdout)
	}
	if len(st.Requests) != 1 || len(st.Requests[0].Machines) != 2 {
		t.Fatalf("status during the outage lost machines: %s", res.Stdout)
	}
	e.sb.ClearFaults("")
	after, err := e.hf.Status(e.ctx(), before.RequestID)
	if err != nil || after.Requests[0].Status != "complete" || len(after.Requests[0].Machines) != 2 {
		t.Fatalf("after the outage: %+v %v", after, err)
	}
}

// The crash test: ohfp is killed with SIGKILL at random moments of
// requestMachines and requestReturnMachines, sometimes while the cloud
// call is in flight. Afterwards every instance the sandbox launched belongs
// to exactly one request HostFactory was told about, or has been
// terminated, and no request was launched twice.
func TestKilledAtRandomNeverLeaks(t *testing.T) {
	const runs = 100
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", -1, nil)}, map[string]any{"INSTANCE_CREATION_TIMEOUT": 0.05})
	e.hf.Env = append(e.hf.Env, "HF_TIMEOUT=3")
	rng := rand.New(rand.NewPCG(1, 2))
	told := map[string]int{} // request id -> machines HostFactory was told about
	var pool []hostfactory.Machine
	killed, answered := 0, 0
	for i := range runs {
		if i%3 == 2 && len(pool) > 0 {
			// Return one host, killing the script at a random moment; then
			// HostFactory, having seen the call fail, asks again.
			m := pool[0]
			pool = pool[1:]
			if e.killAt(rng, "requestReturnMachines", map[string]any{"machines": hostfactory.Hosts([]hostfactory.Machine{m})}, i%2 == 0) {
				killed++
			}
			mustReturn(t, e, []hostfactory.Machine{m})
			continue
		}
		n := 1 + rng.IntN(3)
		in := map[string]any{"template": map[string]any{"templateId": "T", "machineCount": n}}
		out, ok := e.killAtAnswer(rng, "requestMachines", in, i%2 == 0)
		if !ok {
			killed++
			continue
		}
		answered++
		told[out] = n
		r := e.wait(out)
		pool = append(pool, r.Machines...)
	}
	// HostFactory keeps calling: once the killed invocations' budget is over
	// (the requests they left are made older rather than waited for), any
	// operation finishes what they left.
	e.until("the AWS calls of killed processes to end", func() bool { return e.busy.Load() == 0 })
	e.age(time.Hour)
	if _, err := e.hf.ReturnRequests(e.ctx(), hostfactory.Hosts(pool)); err != nil {
		t.Fatal(err)
	}
	// An operator's reconcile finds nothing more to do.
	cmd := exec.Command(binary, "reconcile")
	cmd.Env = e.hf.Env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"terminated": 0`) {
		t.Errorf("reconcile after recovery: %v\n%s", err, out)
	}
	var leaked, terminated, kept int
	perRequest := map[string]int{}
	for _, in := range e.sb.Instances() {
		req := in.Tags["ohfp:request-id"]
		perRequest[req]++
		switch {
		case in.State == "terminated" || in.State == "shutting-down":
			terminated++
		case told[req] > 0:
			kept++
		default:
			leaked++
			t.Errorf("instance %s of request %s (never told to HostFactory) is %s", in.ID, req, in.State)
		}
	}
	twice := 0
	for req, n := range perRequest {
		if want, ok := told[req]; ok && n > want {
			twice++
			t.Errorf("request %s has %d instances for %d machines", req, n, want)
		}
	}
	t.Logf("%d runs: %d killed, %d answered; %d instances: %d alive and known to HostFactory, %d terminated, %d leaked; %d requests launched twice",
		runs, killed, answered, len(e.sb.Instances()), kept, terminated, leaked, twice)
	rs, err := e.store().ListRequests(e.ctx(), store.RequestQuery{States: []store.State{store.StatePending}})
	if err != nil || len(rs) != 0 {
		t.Errorf("%d requests still pending (%v)", len(rs), err)
	}
}

// killAt runs op and kills it with SIGKILL after a random delay; with
// pause, the cloud call is held in flight so the kill lands inside it. It
// reports whether the process was killed before it answered.
func (e *env) killAt(rng *rand.Rand, op string, input any, pause bool) bool {
	_, ok := e.killAtAnswer(rng, op, input, pause)
	return !ok
}

// killAtAnswer is killAt returning the request id printed when the process
// answered before the kill.
func (e *env) killAtAnswer(rng *rand.Rand, op string, input any, pause bool) (string, bool) {
	e.t.Helper()
	action := map[string]string{"requestMachines": "ec2:RunInstances", "requestReturnMachines": "ec2:TerminateInstances"}[op]
	if pause {
		at := []sandbox.PausePoint{sandbox.PauseBefore, sandbox.PauseAfter}[rng.IntN(2)]
		if err := e.sb.Pause(action, at); err != nil {
			e.t.Fatal(err)
		}
		defer e.sb.Release(action)
	}
	file := filepath.Join(e.root, "tmp", "kill.json")
	body, err := json.Marshal(input)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(file, body, 0o644); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(scriptDir, op+".sh"), "-f", file)
	cmd.Env = e.hf.Env
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	delay := time.Duration(rng.IntN(60)) * time.Millisecond
	if pause {
		// Kill while the call is held, once it has arrived.
		deadline := time.Now().Add(5 * time.Second)
		for e.sb.Paused(action) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		delay = time.Duration(rng.IntN(5)) * time.Millisecond
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill()
	if err := cmd.Wait(); err != nil {
		return "", false
	}
	var out hostfactory.RequestID
	if hostfactory.Decode([]byte(stdout.String()), &out) != nil {
		return "", false
	}
	return out.RequestID, true
}

// A fleet or group whose request was never answered to HostFactory (the
// invocation was killed during the launch) is deleted with its instances,
// so it cannot relaunch what reconciliation terminates.
func TestKilledDuringFleetLaunchLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		api, action string
		extra       map[string]any
	}{
		{"EC2Fleet", "ec2:CreateFleet", map[string]any{"fleetType": "maintain"}},
		{"ASG", "autoscaling:CreateAutoScalingGroup", nil},
	} {
		t.Run(c.api, func(t *testing.T) {
			extra := map[string]any{"providerApi": c.api}
			for k, v := range c.extra {
				extra[k] = v
			}
			e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", -1, extra)}, nil)
			e.hf.Env = append(e.hf.Env, "HF_TIMEOUT=2")
			if err := e.sb.Pause(c.action, sandbox.PauseAfter); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(scriptDir, "requestMachines.sh"), "-f", "-")
			cmd.Env = e.hf.Env
			cmd.Stdin = strings.NewReader(`{"template": {"templateId": "T", "machineCount": 3}}`)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for e.sb.Paused(c.action) == 0 {
				time.Sleep(time.Millisecond)
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			e.sb.Release(c.action)
			// Once the call let go has made its fleet or group, HostFactory's
			// next call, past the killed invocation's budget (made older
			// rather than waited for), finds the request left pending.
			e.until("the fleet or group", func() bool { return e.busy.Load() == 0 && len(e.sb.Fleets())+len(e.sb.Groups()) > 0 })
			e.age(time.Hour)
			e.sb.Advance(time.Minute)
			if _, err := e.hf.ReturnRequests(e.ctx(), nil); err != nil {
				t.Fatal(err)
			}
			e.sb.Advance(time.Hour)
			for _, in := range e.sb.Instances() {
				if in.State != "terminated" && in.State != "shutting-down" {
					t.Errorf("instance %s is %s", in.ID, in.State)
				}
			}
			for _, f := range e.sb.Fleets() {
				if f.State != "deleted" && f.State != "deleted_terminating" && f.State != "cancelled" {
					t.Errorf("fleet %s left %s", f.ID, f.State)
				}
			}
			if gs := e.sb.Groups(); len(gs) != 0 {
				t.Errorf("groups left: %+v", gs)
			}
		})
	}
}
