package broker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// grid launches n running machines of template Spot and returns them.
func (h *harness) grid(n int) []store.Machine {
	h.t.Helper()
	h.cloud.LaunchState = cloud.Running
	id := h.request("Spot", n)
	if st := h.status(id); st.Status != store.StateComplete {
		h.t.Fatalf("grid request %s", st.Status)
	}
	return h.machines(id)
}

// TestReturnLeavesAlone: a return terminates only what it may. An entry
// whose name and machineId name different hosts terminates nothing, nor
// does an instance of another installation, or one without an installation
// id that this store did not launch; each such entry is answered failed,
// with its reason, and the return ends complete_with_error.
func TestReturnLeavesAlone(t *testing.T) {
	cases := []struct {
		name  string
		entry func(h *harness, ms []store.Machine) store.MachineRef
		why   string // "": returned and terminated
		spare []int  // hosts of the grid that must stay up
	}{
		{"name and id of one host", func(h *harness, ms []store.Machine) store.MachineRef {
			return store.MachineRef{Name: ms[0].Name, InstanceID: ms[0].InstanceID}
		}, "", []int{1}},
		{"name by itself", func(h *harness, ms []store.Machine) store.MachineRef {
			return store.MachineRef{Name: ms[0].Name}
		}, "", []int{1}},
		{"name of one host, id of another", func(h *harness, ms []store.Machine) store.MachineRef {
			return store.MachineRef{Name: ms[0].Name, InstanceID: ms[1].InstanceID}
		}, "name different hosts", []int{0, 1}},
		{"a known name and an unknown id", func(h *harness, ms []store.Machine) store.MachineRef {
			return store.MachineRef{Name: ms[0].Name, InstanceID: "i-0123456789abcdef0"}
		}, "name different hosts", []int{0, 1}},
		{"another installation's host", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray("i-theirs", "req-theirs", "inst-elsewhere", epoch))
			return store.MachineRef{Name: "ip-i-theirs.ec2.internal", InstanceID: "i-theirs"}
		}, "belongs to another installation", []int{0, 1}},
		{"an untagged host this store did not launch", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray("i-old", "req-old", "", epoch))
			return store.MachineRef{Name: "ip-i-old.ec2.internal", InstanceID: "i-old"}
		}, "carries no installation id", []int{0, 1}},
		{"an id the store lost, named as another host", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray("i-lost", "req-lost", installationID, epoch))
			return store.MachineRef{Name: "ip-elsewhere.ec2.internal", InstanceID: "i-lost"}
		}, "name different hosts", []int{0, 1}},
		{"this installation's host the store lost", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray("i-lost", "req-lost", installationID, epoch))
			return store.MachineRef{Name: "ip-i-lost.ec2.internal", InstanceID: "i-lost"}
		}, "", []int{0, 1}},
		{"this installation's host the store lost, under another name", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray("i-lost", "req-lost", installationID, epoch))
			return store.MachineRef{Name: "ip-10-9-9-9.ec2.internal", InstanceID: "i-lost"}
		}, "name different hosts", []int{0, 1}},
		{"a stored host's id on an untagged instance of another request", func(h *harness, ms []store.Machine) store.MachineRef {
			h.cloud.Add(stray(ms[0].InstanceID, "req-other", "", epoch))
			return store.MachineRef{Name: ms[0].Name, InstanceID: ms[0].InstanceID}
		}, "carries no installation id", []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			ms := h.grid(2)
			ref := c.entry(h, ms)
			id, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref})
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range c.spare {
				if in, _ := h.cloud.Instance(ms[i].InstanceID); in.State != cloud.Running {
					t.Fatalf("host %s is %s", ms[i].InstanceID, in.State)
				}
			}
			st := h.status(id)
			got := st.Machines[0]
			if c.why == "" {
				if in, _ := h.cloud.Instance(got.InstanceID); in.State.Live() && in.State != cloud.ShuttingDown {
					t.Fatalf("returned host %s is still %s", got.InstanceID, in.State)
				}
				return
			}
			if len(h.cloud.Terminated()) != 0 {
				t.Fatalf("terminated %v", h.cloud.Terminated())
			}
			if got.Result != store.ResultFail || !strings.Contains(got.Message, c.why) {
				t.Fatalf("machine %s %q; want fail saying %q", got.Result, got.Message, c.why)
			}
			h.clock.Advance(visibilityGrace)
			if st := h.status(id); st.Status != store.StateCompleteWithError || st.Machines[0].Result != store.ResultFail {
				t.Fatalf("return ended %s, machine %s", st.Status, st.Machines[0].Result)
			}
		})
	}
}

// A mixed return carries out the good entries and leaves the bad one.
func TestReturnMixed(t *testing.T) {
	h := newHarness(t)
	ms := h.grid(3)
	id, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{
		{Name: ms[0].Name, InstanceID: ms[0].InstanceID},
		{Name: ms[1].Name, InstanceID: ms[2].InstanceID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.cloud.Terminated(); !slices.Equal(got, []string{ms[0].InstanceID}) {
		t.Fatalf("terminated %v", got)
	}
	h.cloud.Set(ms[0].InstanceID, cloud.Terminated, "")
	st := h.status(id)
	if st.Status != store.StateCompleteWithError || st.Machines[0].Result != store.ResultSucceed || st.Machines[1].Result != store.ResultFail {
		t.Fatalf("status %+v", st)
	}
}

// Only the cloud's own actions are reclaims: a host HostFactory returned
// is reported gone, as the contract wants for every host it lists, but is
// no reclaim in the log or the audit trail, nor is a returned spot host
// AWS marks before it is gone; another installation's instance is not
// reported at all.
func TestReclaimsAreTheCloudsOwn(t *testing.T) {
	h := newHarness(t)
	ms := h.grid(4)
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: ms[0].Name, InstanceID: ms[0].InstanceID},
		{Name: ms[3].Name, InstanceID: ms[3].InstanceID}}); err != nil {
		t.Fatal(err)
	}
	h.cloud.Set(ms[0].InstanceID, cloud.Terminated, "")
	h.cloud.Set(ms[3].InstanceID, cloud.Running, "") // still up when AWS marks it
	h.cloud.Marks[ms[3].InstanceID] = h.clock.Now()
	h.cloud.Set(ms[1].InstanceID, cloud.Terminated, "Server.SpotInstanceTermination")
	h.cloud.Add(stray("i-theirs", "req-theirs", "inst-elsewhere", epoch))
	h.cloud.Set("i-theirs", cloud.Terminated, "")
	hosts := []store.MachineRef{
		{Name: ms[0].Name, InstanceID: ms[0].InstanceID},
		{Name: ms[1].Name, InstanceID: ms[1].InstanceID},
		{Name: ms[2].Name, InstanceID: ms[2].InstanceID},
		{Name: ms[3].Name, InstanceID: ms[3].InstanceID},
		{Name: "ip-i-theirs.ec2.internal", InstanceID: "i-theirs"},
	}
	out, err := h.b.Reclaims(h.ctx(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	for _, r := range out {
		reported = append(reported, r.InstanceID)
	}
	if !slices.Equal(reported, []string{ms[0].InstanceID, ms[1].InstanceID}) {
		t.Fatalf("reported %v, want the returned host and the reclaimed one", reported)
	}
	events, _ := h.st.Events(h.ctx(), store.EventQuery{})
	var reclaims []string
	for _, e := range events {
		if e.Action == ActionReclaim {
			reclaims = append(reclaims, e.InstanceID)
		}
	}
	if !slices.Equal(reclaims, []string{ms[1].InstanceID}) {
		t.Fatalf("reclaim events for %v, want only %s", reclaims, ms[1].InstanceID)
	}
}

// TestReturnRequest: the OHFP guides' requestReturnMachines
// {"requestId": ...} returns the live machines of that request not given
// back yet, and only those; an unknown request, a return request or one
// with nothing left to return is refused without touching the cloud.
func TestReturnRequest(t *testing.T) {
	h := newHarness(t)
	ms := h.grid(3)
	other := h.grid(1)
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: ms[0].Name, InstanceID: ms[0].InstanceID}}); err != nil {
		t.Fatal(err)
	}
	before := len(h.cloud.Calls("Terminate"))
	id, _, err := h.b.ReturnRequest(h.ctx(), ms[0].RequestID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h.stored(id).Machines {
		got = append(got, m.InstanceID)
	}
	slices.Sort(got)
	want := []string{ms[1].InstanceID, ms[2].InstanceID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("returned %v, want %v", got, want)
	}
	if in, _ := h.cloud.Instance(other[0].InstanceID); in.State != cloud.Running {
		t.Fatalf("another request's host is %s", in.State)
	}
	for _, c := range []struct {
		id   string
		code fault.Code
	}{
		{ms[0].RequestID, fault.InvalidRequest}, // nothing left to return
		{id, fault.RequestNotFound},             // a return request
		{"req-unknown", fault.RequestNotFound},
	} {
		if _, _, err := h.b.ReturnRequest(h.ctx(), c.id); fault.CodeOf(err) != c.code {
			t.Errorf("ReturnRequest(%s) = %v, want %s", c.id, err, c.code)
		}
	}
	if n := len(h.cloud.Calls("Terminate")); n != before+1 {
		t.Errorf("%d terminate calls, want 1", n-before)
	}
}

// TestRequestAttributes: a request's attributes are kept with the request
// and launched as tags; with the template's instanceTags they may not pass
// EC2's limit.
func TestRequestAttributes(t *testing.T) {
	h := newHarness(t)
	tags := []config.Tag{{Key: "priority", Value: "high"}, {Key: "environment", Value: "production"}}
	g, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "Spot", Count: 1, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.stored(g.ID).Tags; !slices.Equal(got, tags) {
		t.Errorf("stored tags %v", got)
	}
	launches := h.cloud.Calls("Launch")
	if got := launches[len(launches)-1].Spec.Tags; !slices.Equal(got, tags) {
		t.Errorf("launched with tags %v", got)
	}
	var many []config.Tag
	for i := range config.MaxInstanceTags + 1 {
		many = append(many, config.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"})
	}
	if _, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "Spot", Count: 1, Tags: many}); fault.CodeOf(err) != fault.InvalidRequest {
		t.Errorf("%d tags: %v, want INVALID_REQUEST", len(many), err)
	}
}
