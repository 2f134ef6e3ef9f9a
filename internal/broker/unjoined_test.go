package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// TestUnjoined is the decision alone: a host never joined LSF when it was
// reported up, is not being returned, is alive as this installation's,
// and LSF never named it although it named its hosts more than
// INSTANCE_CREATION_TIMEOUT after the launch.
func TestUnjoined(t *testing.T) {
	launch := epoch
	base := store.Machine{InstanceID: "i-1", RequestID: "req-1", Result: store.ResultSucceed, State: cloud.Running, LaunchTime: launch}
	live := map[string]cloud.Instance{"i-1": {ID: "i-1", State: cloud.Running, LaunchTime: launch, Tags: map[string]string{cloud.TagRequestID: "req-1"}}}
	cases := []struct {
		name   string
		edit   func(*store.Machine)
		listed time.Duration // LSF last named its hosts this long after the launch; -1: never
		live   bool
		want   bool
	}{
		{"never named, LSF named its hosts just after the timeout", nil, around(creationTimeout)[2], true, true},
		{"LSF named its hosts at the timeout", nil, around(creationTimeout)[1], true, false},
		{"LSF named its hosts just before the timeout", nil, around(creationTimeout)[0], true, false},
		{"LSF never named its hosts", nil, -1, true, false},
		{"named once", func(m *store.Machine) { m.ListedAt = launch.Add(time.Minute) }, time.Hour, true, false},
		{"being returned", func(m *store.Machine) { m.ReturnID = "ret-1" }, time.Hour, true, false},
		{"never reported up", func(m *store.Machine) { m.Result = store.ResultExecuting }, time.Hour, true, false},
		{"failed", func(m *store.Machine) { m.Result = store.ResultFail }, time.Hour, true, false},
		{"gone from the cloud, or another installation's", nil, time.Hour, false, false},
		{"its request tag names another request", func(m *store.Machine) { m.RequestID = "req-2" }, time.Hour, true, false},
		{"launch time stored as unknown: the cloud's", func(m *store.Machine) { m.LaunchTime = time.Time{} }, time.Hour, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base
			if c.edit != nil {
				c.edit(&m)
			}
			var last time.Time
			if c.listed >= 0 {
				last = launch.Add(c.listed)
			}
			l := live
			if !c.live {
				l = nil
			}
			if got := len(unjoined([]store.Machine{m}, l, last, creationTimeout)) == 1; got != c.want {
				t.Errorf("unjoined = %v, want %v", got, c.want)
			}
		})
	}
}

// TestUnjoinedHostsTerminated: under LSF, getReturnRequests records the
// hosts LSF names; the reconcile pass it runs terminates, once
// INSTANCE_CREATION_TIMEOUT has passed, the hosts LSF never named, with
// the reason recorded first and within the termination budget. Symphony
// never does.
func TestUnjoinedHostsTerminated(t *testing.T) {
	for _, c := range []struct {
		name       string
		lsf        bool
		machines   int
		budgetMin  int
		terminated int
	}{
		{"LSF: the two hosts never named go", true, 3, 20, 2},
		{"LSF: more than the budget, none goes", true, 3, 1, 0},
		{"Symphony: nothing goes", false, 3, 20, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			edits := []func(*config.Config){func(cfg *config.Config) { cfg.Reconcile = config.Reconcile{BudgetPercent: 0, BudgetMin: c.budgetMin} }}
			if c.lsf {
				edits = append(edits, underLSF)
			}
			h := newHarness(t, edits...)
			h.cloud.LaunchState = cloud.Running
			id := h.request("T", c.machines)
			st := h.status(id)
			if len(st.Machines) != c.machines {
				t.Fatalf("machines %+v", st.Machines)
			}
			joined := st.Machines[0]
			refs := []store.MachineRef{{Name: joined.Name, InstanceID: joined.InstanceID}}
			// LSF names the first host at once, and again past the timeout.
			if _, err := h.b.Reclaims(h.ctx(), refs); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(creationTimeout + reconcileEvery + time.Second)
			if _, err := h.b.Reclaims(h.ctx(), refs); err != nil {
				t.Fatal(err)
			}
			got := h.cloud.Terminated()
			if len(got) != c.terminated || slices.Contains(got, joined.InstanceID) {
				t.Fatalf("terminated %v, want %d hosts and never %s", got, c.terminated, joined.InstanceID)
			}
			// Only what went is recorded as going: hosts kept over the
			// budget still hold their slots.
			for _, m := range h.machines(id) {
				if slices.Contains(got, m.InstanceID) != (m.State == cloud.ShuttingDown) {
					t.Errorf("machine %s stored %s", m.InstanceID, m.State)
				}
			}
			if events := h.events(id); countOf(events, ActionMachineTerminated) != c.terminated {
				t.Errorf("%d terminated events, want %d: %v", countOf(events, ActionMachineTerminated), c.terminated, events)
			}
		})
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}
