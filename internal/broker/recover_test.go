package broker

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// TestRecoverPending is when a request left behind by a dead invocation is
// taken for lost, at each side of its boundary: a pending create request
// once its invocation's budget is over, a placed one once HostFactory has
// had INSTANCE_CREATION_TIMEOUT (at least the budget) to ask about it.
func TestRecoverPending(t *testing.T) {
	cases := []struct {
		name     string
		state    store.State
		hfTime   time.Duration // HF_TIMEOUT; 0: none
		boundary time.Duration // none: never recovered
	}{
		{"pending", store.StatePending, hfTimeout, hfTimeout},
		{"pending, no HF_TIMEOUT: the creation timeout is the budget", store.StatePending, 0, creationTimeout},
		{"placed", store.StatePlaced, hfTimeout, creationTimeout},
		{"placed, HF_TIMEOUT above the creation timeout", store.StatePlaced, 2 * creationTimeout, 2 * creationTimeout},
		{"running: HostFactory follows it", store.StateRunning, hfTimeout, 0},
	}
	for _, c := range cases {
		for i, age := range around(c.boundary) {
			if c.boundary == 0 {
				age = 24 * time.Hour
			}
			t.Run(c.name+"/"+[]string{"before", "at", "after"}[i], func(t *testing.T) {
				h := newHarness(t, func(cfg *config.Config) { cfg.Timeout = c.hfTime })
				r, insts := h.leftBehind(c.state)
				h.clock.Set(r.CreatedAt.Add(age))
				h.b.recoverPending(h.ctx())
				h.b.flushEvents(h.ctx())

				recovered := c.boundary > 0 && age >= c.boundary
				got := h.stored(r.ID)
				terminated := h.cloud.Terminated()
				if !recovered {
					if got.State != c.state || len(terminated) != 0 {
						t.Fatalf("recovered too early: %s, terminated %v", got.State, terminated)
					}
					return
				}
				if got.State != store.StateFailed || got.Message != errPlacerDied.Error() {
					t.Errorf("request %s %q, want failed %q", got.State, got.Message, errPlacerDied)
				}
				if !slices.Equal(terminated, insts) {
					t.Errorf("terminated %v, want its instances %v", terminated, insts)
				}
				retired := h.cloud.Calls(fake.Retire)
				if len(retired) != 1 || retired[0].Ref != wantRef(r) {
					t.Errorf("retired %+v, want %s", retired, wantRef(r))
				}
				if ev := h.events(r.ID); !slices.Contains(ev, ActionRequestFailed) || !slices.Contains(ev, ActionMachineTerminated) {
					t.Errorf("audit trail %v", ev)
				}
			})
		}
	}
}

// wantRef is what recovery retires for a request: its placement, or
// whatever its launch may have left when that was never recorded.
func wantRef(r store.Request) string {
	if r.CloudRef != "" {
		return r.CloudRef
	}
	return cloud.RequestRef("", r.ID)
}

// leftBehind stores a create request of 2 machines in state, as an
// invocation that died would have left it, with its instances running in
// the cloud; it returns the request and the ids of its instances.
func (h *harness) leftBehind(state store.State) (store.Request, []string) {
	h.t.Helper()
	if state == store.StatePending {
		// Stored, launched, but the launch's answer never recorded.
		t, _ := h.cfg.Template("T")
		snapshot, err := json.Marshal(t)
		if err != nil {
			h.t.Fatal(err)
		}
		r := store.Request{ID: "req-left", Kind: store.KindCreate, TemplateID: t.ID, Template: snapshot,
			MachineCount: 2, Outstanding: 2, ClientToken: "req-left", State: store.StatePending, CreatedAt: h.clock.Now()}
		if err := h.st.CreateRequest(h.ctx(), &r, []store.Limit{store.TemplateLimit(t.ID, t.MaxNumber)}); err != nil {
			h.t.Fatal(err)
		}
		p, err := h.cloud.Launch(h.ctx(), cloud.LaunchSpec{RequestID: r.ID, ProviderName: provider, InstallationID: installationID, ClientToken: r.ClientToken, Count: 2, Template: t})
		if err != nil {
			h.t.Fatal(err)
		}
		h.setAll(r.ID, cloud.Running)
		return h.stored(r.ID), ids(p.Instances)
	}
	id := h.request("T", 2)
	if state == store.StateRunning {
		h.status(id) // HostFactory asks while the instances are pending
	}
	h.setAll(id, cloud.Running)
	return h.stored(id), h.instances(id)
}

func ids(insts []cloud.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

// A return request left pending (its invocation died before terminating
// anything) is carried out once its invocation's budget is over:
// HostFactory asked for those hosts to go.
func TestRecoverPendingReturn(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	h.status(id)
	ms := h.machines(id)
	ret := store.Request{ID: "ret-1", Kind: store.KindReturn, State: store.StatePending,
		Machines: []store.MachineRef{{Name: ms[0].Name, InstanceID: ms[0].InstanceID}}, CreatedAt: h.clock.Now()}
	if err := h.st.CreateRequest(h.ctx(), &ret, nil); err != nil {
		t.Fatal(err)
	}
	for _, age := range around(hfTimeout) {
		h.clock.Set(ret.CreatedAt.Add(age))
		h.b.recoverPending(h.ctx())
		got := h.stored(ret.ID)
		if recovered := age >= hfTimeout; recovered != (got.State == store.StateRunning) {
			t.Fatalf("at %s: return request %s", age, got.State)
		}
	}
	if got := h.cloud.Terminated(); !slices.Equal(got, []string{ms[0].InstanceID}) {
		t.Errorf("terminated %v, want %s", got, ms[0].InstanceID)
	}
}

// A placed request left behind whose instances cannot be terminated stays
// placed, so the next recovery tries again; recorded failed at once, its
// machines, known to the store, would be left running for good, since
// reconcile looks only at unknown instances. (A process killed between
// the two steps leaves the same state behind.)
func TestRecoveryRetriesUntilTerminated(t *testing.T) {
	h := newHarness(t)
	r, insts := h.leftBehind(store.StatePlaced)
	h.clock.Set(r.CreatedAt.Add(creationTimeout))
	h.cloud.Fail(fake.Terminate, errors.New("RequestLimitExceeded"))
	h.b.recoverPending(h.ctx())
	if got := h.stored(r.ID); got.State != store.StatePlaced {
		t.Fatalf("with its instances still running the request is %s", got.State)
	}
	h.cloud.Fail(fake.Terminate, nil)
	h.b.recoverPending(h.ctx())
	if got := h.stored(r.ID); got.State != store.StateFailed {
		t.Fatalf("request %s after a second recovery", got.State)
	}
	for _, id := range insts {
		if in, _ := h.cloud.Instance(id); in.State.Live() {
			t.Errorf("instance %s is %s", id, in.State)
		}
	}
	for _, m := range h.machines(r.ID) {
		if m.Alive() {
			t.Errorf("machine %s still holds a slot: %+v", m.InstanceID, m)
		}
	}
}

// Recovery terminates the instances of a lost request that are still
// alive; one already gone is not terminated again, nor recorded as
// terminated by it.
func TestRecoveryTerminatesOnlyTheLive(t *testing.T) {
	h := newHarness(t)
	r, insts := h.leftBehind(store.StatePlaced)
	h.cloud.Set(insts[0], cloud.Terminated, "Server.SpotInstanceTermination")
	h.clock.Set(r.CreatedAt.Add(creationTimeout))
	h.b.recoverPending(h.ctx())
	h.b.flushEvents(h.ctx())
	if got := h.cloud.Terminated(); !slices.Equal(got, insts[1:]) {
		t.Errorf("terminated %v, want only the live %v", got, insts[1:])
	}
	es, err := h.st.Events(h.ctx(), store.EventQuery{RequestID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == ActionMachineTerminated && e.InstanceID != insts[1] {
			t.Errorf("recorded as terminated by recovery: %s", e.InstanceID)
		}
	}
	for _, m := range h.machines(r.ID) {
		if m.InstanceID == insts[0] && m.State == cloud.ShuttingDown {
			t.Errorf("the gone machine was recorded as shutting down again: %+v", m)
		}
	}
}

// TestRecoveryTerminatesOnlyThisInstallations: an instance that carries the
// request's tag but another installation's id, or none, is not proven this
// installation's, and recovery leaves it running.
func TestRecoveryTerminatesOnlyThisInstallations(t *testing.T) {
	h := newHarness(t)
	r, insts := h.leftBehind(store.StatePlaced)
	h.cloud.Add(stray("i-elsewhere", r.ID, "inst-elsewhere", r.CreatedAt))
	h.cloud.Add(stray("i-untagged", r.ID, "", r.CreatedAt))
	h.clock.Set(r.CreatedAt.Add(creationTimeout))
	h.b.recoverPending(h.ctx())
	if got := h.cloud.Terminated(); !slices.Equal(got, insts) {
		t.Errorf("terminated %v, want this installation's %v", got, insts)
	}
}
