package broker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/store"
)

// TestShrinkRefusedNeverBlocksATermination: a fleet or group that cannot
// be shrunk (AWS modifies only maintain fleets) must not keep returned
// machines, or reconcile's strays, running.
func TestShrinkRefusedNeverBlocksATermination(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	if st := h.status(id); st.Status != "complete" {
		t.Fatalf("request %s", st.Status)
	}
	h.cloud.Fail(fake.Release, errors.New("ec2:ModifyFleet: InvalidFleetConfig: only maintain fleets can be modified"))
	stray := cloud.Instance{ID: "i-stray", State: cloud.Running, LaunchTime: epoch.Add(-time.Hour),
		Tags: map[string]string{cloud.TagRequestID: id, cloud.TagProvider: provider, cloud.TagInstallation: installationID}}
	h.cloud.Add(stray)

	ms := h.machines(id)
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: ms[0].Name, InstanceID: ms[0].InstanceID}}); err != nil {
		t.Fatalf("ReturnMachines: %v", err)
	}
	rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}

	terminated := h.cloud.Terminated()
	if !slices.Contains(terminated, ms[0].InstanceID) || !slices.Contains(terminated, stray.ID) || !slices.Contains(rec.Terminated, stray.ID) {
		t.Errorf("terminated %v, reconcile %v: want the returned machine and the stray", terminated, rec.Terminated)
	}
	if n := len(h.cloud.Calls(fake.Release)); n != 2 {
		t.Errorf("%d Release calls, want one for the return and one for the stray", n)
	}
}

// TestZeroFactIsNoFact: a type the cloud describes without vCPUs or memory
// is never published as ncpus or nram 0.
func TestZeroFactIsNoFact(t *testing.T) {
	h := newHarness(t)
	h.cloud.Types["t3.micro"] = cloud.TypeFacts{Name: "t3.micro"}
	ts, err := h.b.Templates(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range ts {
		if a := ti.Attributes; a["ncpus"].Value == "0" || a["nram"].Value == "0" {
			t.Errorf("template %s published %v", ti.ID, a)
		}
	}
	if _, ok, _ := h.st.Fact(h.ctx(), factPrefix+"t3.micro"); ok {
		t.Error("a zero fact was cached")
	}
}

// TestRunningWithoutANameIsNamedAfterItsIP: a running instance EC2 gives no
// private DNS name is executing for nameGrace, then succeeds with a name
// made from its private IP.
func TestRunningWithoutANameIsNamedAfterItsIP(t *testing.T) {
	for i, age := range around(nameGrace) {
		h := newHarness(t)
		h.cloud.Unnamed = true
		id := h.request("T", 1)
		h.setAll(id, cloud.Running)
		h.clock.Advance(age)

		st := h.status(id)

		m := h.machines(id)[0]
		if i == 0 {
			if st.Status != "running" || m.Result != store.ResultExecuting || m.Name != "" {
				t.Errorf("at %s: request %s, machine %s named %q; want it still executing", age, st.Status, m.Result, m.Name)
			}
			continue
		}
		if want := cloud.IPName(m.PrivateIP); st.Status != "complete" || m.Result != store.ResultSucceed || m.Name != want || want == "" {
			t.Errorf("at %s: request %s, machine %s named %q; want it succeeded as %q", age, st.Status, m.Result, m.Name, want)
		}
	}
}
