package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// A return request terminates the hosts given back, shrinks their
// placement first, and completes once the cloud has them terminated; the
// placement they came from is then retired.
func TestReturnCycle(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	h.status(id)
	ms := h.machines(id)
	ref := h.stored(id).CloudRef

	retID, msg, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(ms[0]), ref0(ms[1])})
	if err != nil || !strings.HasPrefix(retID, "ret-") || msg != "" {
		t.Fatalf("ReturnMachines: %q %q %v", retID, msg, err)
	}
	ids := []string{ms[0].InstanceID, ms[1].InstanceID}
	if got := h.cloud.Terminated(); !slices.Equal(got, ids) {
		t.Errorf("terminated %v, want %v", got, ids)
	}
	calls := h.cloud.Calls("")
	release := slices.IndexFunc(calls, func(c fake.Call) bool { return c.Method == fake.Release && c.Ref == ref })
	terminate := slices.IndexFunc(calls, func(c fake.Call) bool { return c.Method == fake.Terminate })
	if release < 0 || release > terminate {
		t.Errorf("the placement must shrink before its instances go: %+v", calls)
	}
	for _, m := range h.machines(id) {
		if m.ReturnID != retID || m.State != cloud.ShuttingDown || m.Alive() {
			t.Errorf("returned machine %+v", m)
		}
	}

	st := h.status(retID)
	if st.Status != store.StateRunning || st.Machines[0].Result != store.ResultExecuting {
		t.Fatalf("while shutting down: %+v", st)
	}
	h.setAll(id, cloud.Terminated)
	st = h.status(retID)
	if st.Status != store.StateComplete || st.Machines[0].Result != store.ResultSucceed || st.Machines[1].Result != store.ResultSucceed {
		t.Fatalf("once terminated: %+v", st)
	}
	if retired := h.cloud.Calls(fake.Retire); len(retired) != 1 || retired[0].Ref != ref {
		t.Errorf("retired %+v, want %s", retired, ref)
	}
}

// A return shrinks the placement by the hosts it terminates only: one
// the store already knows gone was counted out when it went.
func TestReturnReleasesOnlyWhatGoes(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	ms := h.machines(id)
	h.cloud.Set(ms[1].InstanceID, cloud.Terminated, "Server.SpotInstanceTermination")
	if st := h.status(id); st.Status != store.StateCompleteWithError {
		t.Fatalf("%+v", st)
	}
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(ms[0]), ref0(ms[1])}); err != nil {
		t.Fatal(err)
	}
	released := h.cloud.Calls(fake.Release)
	if len(released) != 1 || !slices.Equal(released[0].IDs, []string{ms[0].InstanceID}) {
		t.Errorf("released %+v, want %s alone", released, ms[0].InstanceID)
	}
	if got := h.cloud.Terminated(); !slices.Equal(got, []string{ms[0].InstanceID}) {
		t.Errorf("terminated %v, want %s alone", got, ms[0].InstanceID)
	}
}

func ref0(m store.Machine) store.MachineRef {
	return store.MachineRef{Name: m.Name, InstanceID: m.InstanceID}
}

// TestReturnedHosts is what a return does with each kind of host given
// back, and what its status then says of it.
func TestReturnedHosts(t *testing.T) {
	cases := []struct {
		name          string
		edit          func(*config.Config)
		prepare       func(h *harness, m store.Machine) store.MachineRef
		wantTerminate bool
		wantMessage   string       // of ReturnMachines
		wantResult    store.Result // of the machine in the return's status
		wantNote      string       // in the machine's message
		failCloud     map[string]error
	}{
		{name: "running", prepare: returnAs, wantTerminate: true, wantResult: store.ResultExecuting},
		{name: "by name only", prepare: func(h *harness, m store.Machine) store.MachineRef { return store.MachineRef{Name: m.Name} },
			wantTerminate: true, wantResult: store.ResultExecuting},
		{name: "already terminated", prepare: func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Set(m.InstanceID, cloud.Terminated, "")
			h.markStored(m, cloud.Terminated)
			return returnAs(h, m)
		}, wantMessage: "No Active VM.", wantResult: store.ResultSucceed},
		// The store recorded it from this installation's own launch: one
		// the cloud does not show yet is terminated all the same.
		{name: "not visible yet", prepare: func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Hide(m.InstanceID)
			return returnAs(h, m)
		}, wantTerminate: true, wantResult: store.ResultSucceed},
		{name: "not launched by us", prepare: func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Add(cloud.Instance{ID: "i-0000000foreign", State: cloud.Running, Tags: map[string]string{"owner": "someone"}})
			return store.MachineRef{Name: "ip-10-1-1-1", InstanceID: "i-0000000foreign"}
		}, wantMessage: "No Active VM.", wantResult: store.ResultFail, wantNote: "not launched by provider"},
		{name: "spot marked for reclaim: left to AWS", prepare: func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Marks[m.InstanceID] = epoch
			return returnAs(h, m)
		}, wantResult: store.ResultExecuting},
		{name: "spot marked, AWS_SPOT_TERMINATE_ON_RECLAIM", edit: func(c *config.Config) { c.AWS.SpotTerminateOnReclaim = true },
			prepare: func(h *harness, m store.Machine) store.MachineRef {
				h.cloud.Marks[m.InstanceID] = epoch
				return returnAs(h, m)
			}, wantTerminate: true, wantResult: store.ResultExecuting},
		{name: "spot marks unreadable: terminated as asked", prepare: returnAs,
			failCloud: map[string]error{fake.Interruptions: errors.New("RequestLimitExceeded")}, wantTerminate: true, wantResult: store.ResultExecuting},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			edits := []func(*config.Config){}
			if c.edit != nil {
				edits = append(edits, c.edit)
			}
			h := newHarness(t, edits...)
			m := h.runningMachine("Spot")
			host := c.prepare(h, m)
			for method, err := range c.failCloud {
				h.cloud.Fail(method, err)
			}
			retID, msg, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{host})
			if err != nil || msg != c.wantMessage {
				t.Fatalf("ReturnMachines: %q %v, want message %q", msg, err, c.wantMessage)
			}
			if terminated := len(h.cloud.Terminated()) > 0; terminated != c.wantTerminate {
				t.Errorf("terminated %v, want terminated: %v", h.cloud.Terminated(), c.wantTerminate)
			}
			for method := range c.failCloud {
				h.cloud.Fail(method, nil)
			}
			before := len(h.cloud.Terminated())
			st := h.status(retID)
			if got := st.Machines[0]; got.Result != c.wantResult || !strings.Contains(got.Message, c.wantNote) {
				t.Errorf("in the return's status: %s %q, want %s %q", got.Result, got.Message, c.wantResult, c.wantNote)
			}
			if again := h.cloud.Terminated()[before:]; len(again) > 0 && !c.wantTerminate {
				t.Errorf("the status terminated %v", again)
			}
		})
	}
}

func returnAs(h *harness, m store.Machine) store.MachineRef { return ref0(m) }

// TestReturnStatus is a return's status by what the cloud then shows of
// the host: it is returned once stopped, terminated or gone, and not while
// the cloud cannot be asked.
func TestReturnStatus(t *testing.T) {
	for _, c := range []struct {
		name       string
		cloud      func(h *harness, id string)
		wantStatus store.State
		wantResult store.Result
	}{
		{"shutting down", func(h *harness, id string) {}, store.StateRunning, store.ResultExecuting},
		{"terminated", func(h *harness, id string) { h.cloud.Set(id, cloud.Terminated, "") }, store.StateComplete, store.ResultSucceed},
		{"stopped", func(h *harness, id string) { h.cloud.Set(id, cloud.Stopped, "") }, store.StateComplete, store.ResultSucceed},
		{"gone", func(h *harness, id string) { h.cloud.Remove(id) }, store.StateComplete, store.ResultSucceed},
		{"cloud unreachable", func(h *harness, id string) {
			h.cloud.Set(id, cloud.Terminated, "")
			h.cloud.Fail(fake.Instances, errors.New("RequestLimitExceeded"))
		}, store.StateRunning, store.ResultExecuting},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			m := h.runningMachine("T")
			retID, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(m)})
			if err != nil {
				t.Fatal(err)
			}
			c.cloud(h, m.InstanceID)
			sts, err := h.b.Status(h.ctx(), []string{retID})
			if err != nil && fault.CodeOf(err) != fault.Cloud {
				t.Fatal(err)
			}
			if st := sts[0]; st.Status != c.wantStatus || st.Machines[0].Result != c.wantResult {
				t.Errorf("return %s, host %s; want %s, %s", st.Status, st.Machines[0].Result, c.wantStatus, c.wantResult)
			}
			if got := h.stored(retID).State; got != c.wantStatus {
				t.Errorf("stored %s, want %s", got, c.wantStatus)
			}
		})
	}
}

// markStored records a machine's state as last seen.
func (h *harness) markStored(m store.Machine, state cloud.State) {
	h.t.Helper()
	m.State = state
	if err := h.st.SaveMachines(h.ctx(), []store.Machine{m}); err != nil {
		h.t.Fatal(err)
	}
}

// A host still up after its return (the termination was lost or refused),
// running or pending, is terminated again by the next status poll;
// terminating is idempotent.
func TestReturnTerminatesAgain(t *testing.T) {
	for _, state := range []cloud.State{cloud.Running, cloud.Pending} {
		t.Run(string(state), func(t *testing.T) {
			h := newHarness(t)
			m := h.runningMachine("T")
			h.cloud.Fail(fake.Terminate, errors.New("RequestLimitExceeded"))
			if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(m)}); err == nil {
				t.Fatal("a refused termination must fail the return")
			}
			h.cloud.Fail(fake.Terminate, nil)
			// HostFactory asks again.
			retID, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(m)})
			if err != nil {
				t.Fatal(err)
			}
			h.cloud.Set(m.InstanceID, state, "") // the termination was lost
			before := len(h.cloud.Terminated())
			if st := h.status(retID); st.Status != store.StateRunning {
				t.Fatalf("%+v", st)
			}
			if again := h.cloud.Terminated()[before:]; !slices.Equal(again, []string{m.InstanceID}) {
				t.Errorf("terminated again %v, want %s", again, m.InstanceID)
			}
		})
	}
}

// failingSaves is a store whose machine writes alone fail.
type failingSaves struct{ store.Store }

func (failingSaves) SaveMachines(context.Context, []store.Machine) error { return errDiskFull }

// A return finishes in one write with the last states of its hosts, as a
// create request does: no separate write, which could fail or never come,
// leaves a finished return with hosts recorded as still shutting down.
func TestReturnFinishesWithItsHosts(t *testing.T) {
	h := newHarness(t)
	m := h.runningMachine("T")
	retID, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(m)})
	if err != nil {
		t.Fatal(err)
	}
	h.cloud.Set(m.InstanceID, cloud.Terminated, "")
	b := New(h.cfg, failingSaves{h.st}, h.cloud, WithClock(h.clock.Now))
	sts, err := b.Status(h.ctx(), []string{retID})
	if err != nil || sts[0].Status != store.StateComplete {
		t.Fatalf("return %+v, %v", sts, err)
	}
	if got := h.machines(m.RequestID)[0]; got.State != cloud.Terminated {
		t.Errorf("host of the finished return stored %s, want terminated", got.State)
	}
}

// A return retires the placement its hosts came from only once that
// request is finished and holds no live machine: a fleet with hosts left,
// or one still owed machines, is kept.
func TestReturnRetiresOnlyEmptiedPlacements(t *testing.T) {
	for _, c := range []struct {
		name        string
		ongoing     bool // the fleet still owes a machine
		launch      int
		returned    int
		wantRetired bool
	}{
		{"every host returned", false, 2, 2, true},
		{"a host left", false, 2, 1, false},
		{"every host returned, machines still owed", true, 2, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.cloud.LaunchState = cloud.Running
			if c.ongoing {
				h.cloud.Ongoing, h.cloud.LaunchShort = true, 1
			}
			id := h.request("T", c.launch)
			h.status(id)
			ms := h.machines(id)
			refs := make([]store.MachineRef, c.returned)
			for i := range refs {
				refs[i] = ref0(ms[i])
			}
			retID, _, err := h.b.ReturnMachines(h.ctx(), refs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range refs {
				h.cloud.Set(r.InstanceID, cloud.Terminated, "")
			}
			if st := h.status(retID); st.Status != store.StateComplete {
				t.Fatalf("return %s", st.Status)
			}
			if retired := len(h.cloud.Calls(fake.Retire)) > 0; retired != c.wantRetired {
				t.Errorf("placement retired: %v, want %v", retired, c.wantRetired)
			}
		})
	}
}
