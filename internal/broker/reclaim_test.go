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

// TestReclaimGracePeriod is the seconds a marked spot host has left, as
// getReturnRequests reports them: AWS takes it two minutes after the
// mark, and whole seconds are reported, never fewer than 0.
func TestReclaimGracePeriod(t *testing.T) {
	cases := []struct {
		sinceMark time.Duration
		want      int
	}{
		{0, 120},
		{30 * time.Second, 90},
		{119 * time.Second, 1},
		{119*time.Second + 500*time.Millisecond, 0},
		{around(spotNotice)[0], 0},
		{around(spotNotice)[1], 0},
		{around(spotNotice)[2], 0},
		{time.Hour, 0},
	}
	for _, c := range cases {
		t.Run(c.sinceMark.String(), func(t *testing.T) {
			h := newHarness(t)
			m := h.runningMachine("Spot")
			h.cloud.Marks[m.InstanceID] = epoch
			h.clock.Set(epoch.Add(c.sinceMark))
			rs, err := h.b.Reclaims(h.ctx(), []store.MachineRef{{Name: m.Name, InstanceID: m.InstanceID}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || rs[0].InstanceID != m.InstanceID || rs[0].Name != m.Name || rs[0].GracePeriod != c.want {
				t.Fatalf("reclaims %+v, want %s with %ds", rs, m.InstanceID, c.want)
			}
		})
	}
}

// TestReclaimedHosts is which hosts getReturnRequests reports gone or
// going, and which it leaves out.
func TestReclaimedHosts(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(h *harness, m store.Machine) store.MachineRef // acts on the cloud; returns the host as HostFactory names it
		age     time.Duration                                      // since the machine's launch
		want    bool
	}{
		{"running", func(h *harness, m store.Machine) store.MachineRef { return ref(m) }, time.Hour, false},
		{"stopped", func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Set(m.InstanceID, cloud.Stopped, "")
			return ref(m)
		}, time.Hour, true},
		{"terminated", func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Set(m.InstanceID, cloud.Terminated, "")
			return ref(m)
		}, time.Hour, true},
		{"by name only", func(h *harness, m store.Machine) store.MachineRef {
			h.cloud.Set(m.InstanceID, cloud.Terminated, "")
			return store.MachineRef{Name: m.Name}
		}, time.Hour, true},
		{"unknown name", func(h *harness, m store.Machine) store.MachineRef { return store.MachineRef{Name: "ip-10-9-9-9"} }, time.Hour, false},
		// A missing instance may only not be visible yet.
		{"missing, just before the visibility grace", hide, around(visibilityGrace)[0], false},
		{"missing, at the visibility grace", hide, around(visibilityGrace)[1], true},
		{"missing, just after the visibility grace", hide, around(visibilityGrace)[2], true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			m := h.runningMachine("T")
			host := c.prepare(h, m)
			h.clock.Set(m.LaunchTime.Add(c.age))
			rs, err := h.b.Reclaims(h.ctx(), []store.MachineRef{host})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rs) == 1; got != c.want {
				t.Fatalf("reclaims %+v, want reported: %v", rs, c.want)
			}
			if c.want && (rs[0].InstanceID != m.InstanceID || rs[0].GracePeriod != 0) {
				t.Errorf("reclaim %+v, want %s with 0s", rs[0], m.InstanceID)
			}
		})
	}
}

func ref(m store.Machine) store.MachineRef {
	return store.MachineRef{Name: m.Name, InstanceID: m.InstanceID}
}

func hide(h *harness, m store.Machine) store.MachineRef {
	h.cloud.Remove(m.InstanceID)
	return ref(m)
}

// When the cloud cannot be asked, nobody is reported gone: calling every
// host gone because a list call failed would drain a cluster.
func TestReclaimsReportNothingWithoutTheCloud(t *testing.T) {
	for _, method := range []string{fake.Instances, fake.Interruptions} {
		t.Run(method, func(t *testing.T) {
			h := newHarness(t)
			m := h.runningMachine("Spot")
			h.cloud.Marks[m.InstanceID] = epoch
			h.cloud.Fail(method, errors.New("RequestLimitExceeded"))
			rs, err := h.b.Reclaims(h.ctx(), []store.MachineRef{ref(m), {Name: "gone", InstanceID: "i-00000000gone"}})
			if err == nil || rs != nil {
				t.Fatalf("reclaims %+v, error %v", rs, err)
			}
		})
	}
}

// runningMachine is one machine of template that HostFactory followed to
// running.
func (h *harness) runningMachine(template string) store.Machine {
	h.t.Helper()
	id := h.request(template, 1)
	h.setAll(id, cloud.Running)
	if st := h.status(id); st.Status != store.StateComplete {
		h.t.Fatalf("%+v", st)
	}
	return h.machines(id)[0]
}

// A spot host AWS marked is left for AWS to take when HostFactory returns
// it; while it runs out its notice it is HostFactory's own return, never
// a reclaim. Marks are read for spot hosts still up, and only for those.
func TestMarkedHostReturnedIsNoReclaim(t *testing.T) {
	h := newHarness(t)
	ms := h.grid(3)
	h.cloud.Marks[ms[0].InstanceID] = epoch
	h.cloud.Marks[ms[2].InstanceID] = epoch
	if _, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref(ms[0])}); err != nil {
		t.Fatal(err)
	}
	if got := h.cloud.Terminated(); len(got) != 0 {
		t.Fatalf("terminated %v; a marked spot host is left for AWS to take", got)
	}
	h.cloud.Set(ms[1].InstanceID, cloud.Terminated, "Server.SpotInstanceTermination")
	h.clock.Advance(30 * time.Second)
	asked := len(h.cloud.Calls(fake.Interruptions))

	rs, err := h.b.Reclaims(h.ctx(), []store.MachineRef{ref(ms[0]), ref(ms[1]), ref(ms[2])})

	if err != nil {
		t.Fatal(err)
	}
	want := []Reclaim{{Name: ms[1].Name, InstanceID: ms[1].InstanceID}, {Name: ms[2].Name, InstanceID: ms[2].InstanceID, GracePeriod: 90}}
	if !slices.Equal(rs, want) {
		t.Errorf("reclaims %+v, want %+v", rs, want)
	}
	calls := h.cloud.Calls(fake.Interruptions)[asked:]
	if len(calls) != 1 || !slices.Equal(calls[0].IDs, []string{ms[0].InstanceID, ms[2].InstanceID}) {
		t.Errorf("marks read for %+v, want the spot hosts still up", calls)
	}
}
