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
		Tags: map[string]string{cloud.TagRequestID: id, cloud.TagProvider: provider}}
	h.cloud.Add(stray)

	ms := h.machines(id)
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: ms[0].Name, InstanceID: ms[0].InstanceID}}); err != nil {
		t.Fatalf("ReturnMachines: %v", err)
	}
	rec, err := h.b.Reconcile(h.ctx(), false)
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
