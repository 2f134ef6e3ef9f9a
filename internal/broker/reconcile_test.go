package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// TestReconcileDecisions is what reconcile does with an instance of this
// provider instance that the store does not know, by the state of the
// request its tag names and by its age, at each side of
// INSTANCE_CREATION_TIMEOUT.
func TestReconcileDecisions(t *testing.T) {
	const (
		adopt     = "adopted"
		terminate = "terminated"
		wait      = "waiting"
	)
	cases := []struct {
		name   string
		state  store.State // of the request the stray's tag names; "" for none stored
		age    time.Duration
		want   string
		hfTime time.Duration // HF_TIMEOUT, when not hfTimeout
	}{
		{"request placed", store.StatePlaced, time.Minute, adopt, 0},
		{"request running", store.StateRunning, time.Hour, adopt, 0},
		{"request pending: its invocation may be at work", store.StatePending, hfTimeout / 2, wait, 0},
		// An invocation may outlive INSTANCE_CREATION_TIMEOUT when
		// HF_TIMEOUT is longer: what it launched is its to record.
		{"request pending past the creation timeout, within HF_TIMEOUT", store.StatePending, around(creationTimeout)[2], wait, 2 * creationTimeout},
		{"request failed: HostFactory never got it", store.StateFailed, 0, terminate, 0},
		{"request complete, just before the timeout", store.StateComplete, around(creationTimeout)[0], wait, 0},
		{"request complete, at the timeout", store.StateComplete, around(creationTimeout)[1], wait, 0},
		{"request complete, just after the timeout", store.StateComplete, around(creationTimeout)[2], terminate, 0},
		{"no request, just before the timeout", "", around(creationTimeout)[0], wait, 0},
		{"no request, at the timeout", "", around(creationTimeout)[1], wait, 0},
		{"no request, just after the timeout", "", around(creationTimeout)[2], terminate, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *config.Config) {
				if c.hfTime > 0 {
					cfg.Timeout = c.hfTime
				}
			})
			reqID := "req-gone"
			ref := ""
			h.holdSomething() // a store that holds nothing adopts every stray
			if c.state != "" {
				reqID = h.request("T", 1)
				r := h.stored(reqID)
				ref = r.CloudRef
				r.State = c.state
				if err := h.st.UpdateRequest(h.ctx(), &r); err != nil {
					t.Fatal(err)
				}
			}
			h.cloud.Add(cloud.Instance{ID: "i-stray", State: cloud.Running, LaunchTime: epoch,
				Tags: map[string]string{cloud.TagRequestID: reqID, cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
			h.clock.Set(epoch.Add(c.age))
			before := h.cloud.Terminated()

			rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			switch {
			case slices.Contains(rec.Adopted, "i-stray"):
				got = adopt
			case slices.Contains(rec.Terminated, "i-stray"):
				got = terminate
			case slices.Contains(rec.Waiting, "i-stray"):
				got = wait
			}
			if got != c.want {
				t.Fatalf("stray %s, want %s (%+v)", got, c.want, rec)
			}
			if c.want == wait {
				// How long until a pass terminates it: unknown while its
				// request's invocation may still record it.
				in := creationTimeout - c.age
				if c.state == store.StatePending {
					in = 0
				}
				if len(rec.Strays) != 1 || rec.Strays[0].TerminateIn != in {
					t.Errorf("strays %+v, want i-stray to be terminated in %s", rec.Strays, in)
				}
			}
			terminated := slices.Contains(h.cloud.Terminated()[len(before):], "i-stray")
			if terminated != (c.want == terminate) {
				t.Errorf("terminate called for the stray: %v", terminated)
			}
			ms, err := h.st.Machines(h.ctx(), store.MachineQuery{InstanceIDs: []string{"i-stray"}})
			if err != nil {
				t.Fatal(err)
			}
			if stored := len(ms) == 1 && ms[0].RequestID == reqID; stored != (c.want == adopt) {
				t.Errorf("stray stored as a machine of its request: %v", stored)
			}
			released := slices.ContainsFunc(h.cloud.Calls(fake.Release), func(call fake.Call) bool { return call.Ref == ref && slices.Contains(call.IDs, "i-stray") })
			if released != (c.want == terminate && ref != "") {
				t.Errorf("placement %q shrunk by the stray: %v", ref, released)
			}
			if c.want != wait {
				action := map[string]string{adopt: ActionMachineAdopted, terminate: ActionMachineTerminated}[c.want]
				if !slices.Contains(h.events(reqID), action) {
					t.Errorf("audit trail of %s: %v, want %s", reqID, h.events(reqID), action)
				}
			}
		})
	}
}

// A dry run decides as a real pass does, and changes nothing: not even
// the recovery of a request HostFactory never got, which a real pass runs
// first.
func TestReconcileDryRun(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 1)
	h.status(id)
	lost := h.request("T", 1) // placed, never polled
	h.cloud.Add(cloud.Instance{ID: "i-adopt", State: cloud.Running, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: id, cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	h.cloud.Add(cloud.Instance{ID: "i-old", State: cloud.Running, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: "req-gone", cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	h.clock.Set(epoch.Add(time.Hour))
	rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.DryRun || rec.Checked != 4 || !slices.Equal(rec.Adopted, []string{"i-adopt"}) || !slices.Equal(rec.Terminated, []string{"i-old"}) {
		t.Fatalf("dry run: %+v", rec)
	}
	if len(h.cloud.Terminated()) != 0 || len(h.machines(id)) != 1 || h.stored(lost).State != store.StatePlaced {
		t.Errorf("a dry run changed something: terminated %v, machines %+v, lost request %s", h.cloud.Terminated(), h.machines(id), h.stored(lost).State)
	}
}

// Known machines, other providers' instances and instances already going
// are none of reconcile's business.
func TestReconcileLeavesTheKnownAndForeignAlone(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.status(id)
	h.cloud.Add(cloud.Instance{ID: "i-other", State: cloud.Running, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: "req-x", cloud.TagProvider: "another"}})
	h.cloud.Add(cloud.Instance{ID: "i-going", State: cloud.ShuttingDown, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: "req-x", cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	h.clock.Set(epoch.Add(time.Hour))
	rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Checked != 2 || len(rec.Adopted)+len(rec.Terminated)+len(rec.Waiting) != 0 {
		t.Errorf("%+v (request %s)", rec, id)
	}
	if len(h.cloud.Terminated()) != 0 {
		t.Errorf("terminated %v", h.cloud.Terminated())
	}
}

// When the cloud cannot list the instances, reconcile says so and does
// nothing; when it refuses to terminate, the error names it.
func TestReconcileCloudErrors(t *testing.T) {
	h := newHarness(t)
	h.holdSomething()
	h.cloud.Add(cloud.Instance{ID: "i-old", State: cloud.Running, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: "req-gone", cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	h.clock.Set(epoch.Add(time.Hour))
	h.cloud.Fail(fake.Instances, errors.New("RequestLimitExceeded"))
	if _, err := h.b.Reconcile(h.ctx(), ReconcileOptions{}); err == nil {
		t.Error("listing failed, but reconcile did not say so")
	}
	h.cloud.Fail(fake.Instances, nil)
	h.cloud.Fail(fake.Terminate, errors.New("UnauthorizedOperation"))
	if _, err := h.b.Reconcile(h.ctx(), ReconcileOptions{}); err == nil {
		t.Error("terminating failed, but reconcile did not say so")
	}
	if in, _ := h.cloud.Instance("i-old"); in.State != cloud.Running {
		t.Errorf("i-old is %s", in.State)
	}
}

// getReturnRequests, which HostFactory calls periodically, runs a
// reconcile pass when the last one is reconcileEvery old, and not before.
func TestPeriodicReconcile(t *testing.T) {
	h := newHarness(t)
	passes := func() int {
		n := 0
		for _, c := range h.cloud.Calls(fake.Instances) {
			if c.Query.Provider != "" {
				n++
			}
		}
		return n
	}
	call := func() {
		t.Helper()
		if _, err := h.b.Reclaims(h.ctx(), nil); err != nil {
			t.Fatal(err)
		}
	}
	call()
	if passes() != 1 {
		t.Fatalf("the first call ran %d passes", passes())
	}
	for _, c := range []struct {
		at   time.Duration // since the last pass
		want int
	}{
		{around(reconcileEvery)[0], 1},
		{around(reconcileEvery)[1], 2},
	} {
		h.clock.Set(epoch.Add(c.at))
		call()
		if got := passes(); got != c.want {
			t.Errorf("%s after the last pass: %d passes, want %d", c.at, got, c.want)
		}
	}
	h.clock.Set(epoch.Add(reconcileEvery + around(reconcileEvery)[0]))
	call()
	if got := passes(); got != 2 {
		t.Errorf("just before the next one is due: %d passes, want 2", got)
	}
}

// The periodic pass purges the requests finished longer ago than the
// retention, and keeps the others. The store stamps a request's last
// change with its own clock, so the test clock starts from it.
func TestPeriodicPurge(t *testing.T) {
	const retention = 24 * time.Hour
	for _, c := range []struct {
		retention time.Duration // 0: keep everything
		since     time.Duration // from the request's last change to the pass
		want      bool          // purged
	}{
		{retention, retention - time.Minute, false},
		{retention, retention + time.Minute, true},
		{0, 365 * 24 * time.Hour, false},
	} {
		t.Run(fmt.Sprintf("retention %s, since %s", c.retention, c.since), func(t *testing.T) {
			h := newHarness(t, func(cfg *config.Config) { cfg.Storage.Retention = c.retention })
			id := h.request("T", 1)
			h.setAll(id, cloud.Terminated)
			if st := h.status(id); st.Status != store.StateCompleteWithError {
				t.Fatalf("%+v", st)
			}
			h.clock.Set(h.stored(id).UpdatedAt.Add(c.since))
			if _, err := h.b.Reclaims(h.ctx(), nil); err != nil {
				t.Fatal(err)
			}
			rs, err := h.st.GetRequests(h.ctx(), []string{id})
			if err != nil {
				t.Fatal(err)
			}
			if purged := len(rs) == 0; purged != c.want {
				t.Errorf("purged: %v, want %v", purged, c.want)
			}
		})
	}
}

// driftingStore finds counters off on every recount.
type driftingStore struct {
	store.Store
	keys []string // what the last recount checked
}

func (s *driftingStore) Recount(_ context.Context, keys []string) ([]store.Drift, error) {
	s.keys = keys
	return []store.Drift{{Key: keys[0], Counter: 5, Counted: 3, Corrected: true}, {Key: keys[1], Counter: 2, Counted: 1}}, nil
}

// The periodic pass checks the counters of every configured template and
// policy, and records each difference found, corrected or not.
func TestPeriodicRecount(t *testing.T) {
	h := newHarness(t, withPolicies(pol("P", 5, -1, "", nil)))
	ds := &driftingStore{Store: h.st}
	b := New(h.cfg, ds, h.cloud, WithClock(h.clock.Now))
	if _, err := b.Reclaims(h.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if len(ds.keys) != 3 || ds.keys[0] != store.TemplateKey("T") || ds.keys[1] != store.TemplateKey("Spot") {
		t.Fatalf("recounted %v, want both templates' counters and the policy's", ds.keys)
	}
	es, err := h.st.Events(h.ctx(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Action == ActionCounterDrift {
			got = append(got, e.Detail)
		}
	}
	slices.Sort(got)
	want := []string{
		"counter template:Spot said 2, its requests and machines hold 1: left as it is until no change can be in flight",
		"counter template:T said 5, its requests and machines hold 3: set to 3",
	}
	if !slices.Equal(got, want) {
		t.Errorf("drift events\n%q\nwant\n%q", got, want)
	}
}
