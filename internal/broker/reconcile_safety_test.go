package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// stray is an instance in the cloud that the store does not know: tagged
// with this provider name, the request reqID, template T and installation
// owner ("" for none), launched at launched.
func stray(id, reqID, owner string, launched time.Time) cloud.Instance {
	tags := map[string]string{cloud.TagProvider: provider, cloud.TagRequestID: reqID, cloud.TagTemplateID: "T"}
	if owner != "" {
		tags[cloud.TagInstallation] = owner
	}
	return cloud.Instance{ID: id, Name: "ip-" + id + ".ec2.internal", State: cloud.Running, LaunchTime: launched, Tags: tags}
}

// TestReconcileOwnersAndStoreAge is what reconcile does with an instance
// by whose it is and by how it compares with the store: it never touches
// another installation's or an untagged one, and adopts one older than the
// store (or any when the store is empty), at the boundary of the skew.
func TestReconcileOwnersAndStoreAge(t *testing.T) {
	const other = "inst-elsewhere"
	cases := []struct {
		name         string
		storeCreated time.Duration // after epoch; 0: a day before
		emptyStore   bool          // no request stored at all
		request      store.State   // of the stray's request, stored; "" none
		owner        string
		launched     time.Duration // after epoch
		clock        time.Duration // after epoch
		want         string        // adopted, rebuilt, terminated, waiting, elsewhere, untagged
	}{
		{"unknown request, older than the creation timeout", 0, false, "", installationID, 0, creationTimeout + time.Nanosecond, "terminated"},
		{"another installation's, old", 0, false, "", other, 0, 24 * time.Hour, "elsewhere"},
		{"another installation's, its request failed here", 0, false, store.StateFailed, other, 0, 24 * time.Hour, "elsewhere"},
		{"no installation id, old", 0, false, "", "", 0, 24 * time.Hour, "untagged"},
		{"no installation id, its request failed here", 0, false, store.StateFailed, "", 0, 24 * time.Hour, "untagged"},
		{"older than the store by more than the skew", time.Hour, false, "", installationID, time.Hour - storeSkew - time.Nanosecond, 24 * time.Hour, "rebuilt"},
		{"older than the store within the skew", time.Hour, false, "", installationID, time.Hour - storeSkew, 24 * time.Hour, "terminated"},
		{"the store is empty", 0, true, "", installationID, time.Hour, 24 * time.Hour, "rebuilt"},
		{"this installation's id but no request tag, old", 0, false, "", installationID, 0, 24 * time.Hour, "kept"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *config.Config) { cfg.Templates[0].UserData = "PASSWORD=hunter2" })
			if c.storeCreated != 0 {
				h.setStoreCreated(epoch.Add(c.storeCreated))
			}
			if !c.emptyStore {
				h.request("Spot", 1) // the store holds something
			}
			reqID := "req-stray"
			if c.request != "" {
				r := store.Request{ID: reqID, Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: c.request, ClientToken: reqID}
				if err := h.st.CreateRequest(h.ctx(), &r, nil); err != nil {
					t.Fatal(err)
				}
			}
			tag := reqID
			if c.want == "kept" {
				tag = ""
			}
			h.cloud.Add(stray("i-stray", tag, c.owner, epoch.Add(c.launched)))
			h.clock.Set(epoch.Add(c.clock))

			rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := "none"
			switch {
			case slices.Contains(rec.Terminated, "i-stray"):
				got = "terminated"
			case slices.Contains(rec.Adopted, "i-stray") && c.request == "":
				got = "rebuilt"
			case slices.Contains(rec.Adopted, "i-stray"):
				got = "adopted"
			case slices.Contains(rec.Waiting, "i-stray"):
				got = "waiting"
			case rec.Elsewhere == 1 && slices.Equal(rec.Installations, []string{other}):
				got = "elsewhere"
			case slices.Equal(rec.Untagged, []string{"i-stray"}):
				got = "untagged"
			case slices.ContainsFunc(rec.Strays, func(s Stray) bool { return s.InstanceID == "i-stray" && s.Action == StrayKept }):
				got = "kept"
			}
			if got != c.want {
				t.Fatalf("%s, want %s: %+v", got, c.want, rec)
			}
			terminated := h.cloud.Terminated()
			if (c.want == "terminated") != slices.Contains(terminated, "i-stray") {
				t.Fatalf("terminated %v", terminated)
			}
			if c.want == "rebuilt" {
				r := h.stored(reqID)
				ms := h.machines(reqID)
				if r.State != store.StateRunning || r.TemplateID != "T" || r.MachineCount != 1 || !strings.Contains(r.Message, "rebuilt by reconcile") ||
					len(ms) != 1 || ms[0].InstanceID != "i-stray" {
					t.Fatalf("rebuilt request %+v, machines %+v", r, ms)
				}
				if strings.Contains(string(r.Template), "hunter2") || !strings.Contains(string(r.Template), "PASSWORD=") {
					t.Fatalf("the rebuilt request keeps its template's user data values: %s", r.Template)
				}
				if ev := h.events(reqID); !slices.Equal(ev, []string{ActionRequestRestored, ActionMachineAdopted}) {
					t.Fatalf("audit trail %v", ev)
				}
				// Its host holds a slot of the template again.
				held, err := h.st.Held(h.ctx(), []string{store.TemplateKey("T")})
				if err != nil || held[store.TemplateKey("T")] != 1 {
					t.Fatalf("template T holds %v, %v", held, err)
				}
			}
		})
	}
}

// holdSomething stores a finished request, so that the store is not empty
// (an empty store adopts every instance it does not know).
func (h *harness) holdSomething() {
	h.t.Helper()
	old := store.Request{ID: "req-old", Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: store.StateComplete, ClientToken: "req-old"}
	if err := h.st.CreateRequest(h.ctx(), &old, nil); err != nil {
		h.t.Fatal(err)
	}
}

// addStrays puts n unknown instances of this installation in the cloud,
// launched long enough ago to be terminated, beside a store that is not
// empty.
func (h *harness) addStrays(n int) []string {
	h.holdSomething()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("i-stray%03d", i)
		h.cloud.Add(stray(id, "req-gone", installationID, epoch))
		ids = append(ids, id)
	}
	h.clock.Set(epoch.Add(24 * time.Hour))
	return ids
}

// TestReconcileBudget: one pass terminates at most the larger of the
// budget's share of the live instances and its minimum. Past it nothing
// goes unless forced or confirmed, and the stop is logged and recorded.
func TestReconcileBudget(t *testing.T) {
	cases := []struct {
		name        string
		known       int // live instances the store knows
		strays      int
		opts        func(strays []string) ReconcileOptions
		terminated  int
		overBudget  bool
		budget      int
		percent, at int // settings; 0: defaults (10 %, 20)
	}{
		{"at the minimum", 0, 20, nil, 20, false, 20, 0, 0},
		{"one past the minimum", 0, 21, nil, 0, true, 20, 0, 0},
		{"the share of a large grid", 280, 30, nil, 30, false, 31, 0, 0},
		{"one past the share", 280, 33, nil, 0, true, 32, 0, 0},
		{"forced", 0, 25, func([]string) ReconcileOptions { return ReconcileOptions{Force: true} }, 25, false, 20, 0, 0},
		{"confirmed by a person", 0, 25, func(s []string) ReconcileOptions { return ReconcileOptions{Confirmed: s[:22]} }, 22, true, 20, 0, 0},
		{"configured budget", 0, 6, nil, 0, true, 5, 50, 5},
		{"dry run past the budget", 0, 21, func([]string) ReconcileOptions { return ReconcileOptions{DryRun: true} }, 0, true, 20, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *config.Config) {
				if c.percent > 0 {
					cfg.Reconcile = config.Reconcile{BudgetPercent: c.percent, BudgetMin: c.at}
				}
			})
			if c.known > 0 {
				h.cloud.LaunchState = cloud.Running
				h.status(h.request("Spot", c.known)) // HostFactory follows it
			}
			strays := h.addStrays(c.strays)
			opts := ReconcileOptions{}
			if c.opts != nil {
				opts = c.opts(strays)
			}
			rec, err := h.b.Reconcile(h.ctx(), opts)
			if rec.Budget != c.budget || rec.Checked != c.known+c.strays {
				t.Fatalf("budget %d of %d live, want %d of %d", rec.Budget, rec.Checked, c.budget, c.known+c.strays)
			}
			if got := len(h.cloud.Terminated()); got != c.terminated || len(rec.Terminated) != c.terminated {
				t.Fatalf("terminated %d (reported %d), want %d", got, len(rec.Terminated), c.terminated)
			}
			if c.overBudget != errors.Is(err, ErrOverBudget) || c.overBudget != (len(rec.OverBudget) > 0) {
				t.Fatalf("over budget: err %v, %d listed", err, len(rec.OverBudget))
			}
			if !c.overBudget && err != nil {
				t.Fatal(err)
			}
			if len(rec.OverBudget)+len(rec.Terminated) != c.strays {
				t.Fatalf("%d over budget and %d terminated of %d", len(rec.OverBudget), len(rec.Terminated), c.strays)
			}
			events, _ := h.st.Events(h.ctx(), store.EventQuery{})
			stopped := slices.ContainsFunc(events, func(e store.Event) bool {
				return e.Action == ActionReconcileStopped && strings.Contains(e.Detail, rec.OverBudget[0])
			})
			if want := c.overBudget && !opts.DryRun; stopped != want {
				t.Fatalf("audit event reconcile.stopped: %v, want %v (%v)", stopped, want, events)
			}
		})
	}
}

// The periodic pass inside getReturnRequests stops at the budget too: the
// answer to HostFactory stands, nothing is terminated.
func TestPeriodicReconcileStopsAtTheBudget(t *testing.T) {
	h := newHarness(t)
	h.addStrays(40)
	if _, err := h.b.Reclaims(h.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if got := h.cloud.Terminated(); len(got) != 0 {
		t.Fatalf("terminated %d", len(got))
	}
	if ev, _ := h.st.Events(h.ctx(), store.EventQuery{}); !slices.ContainsFunc(ev, func(e store.Event) bool { return e.Action == ActionReconcileStopped }) {
		t.Fatalf("no reconcile.stopped event: %v", ev)
	}
}

// The one-time adoption step claims the untagged instances this store
// launched, and only those; reconcile then treats them as its own.
func TestAdoptUntagged(t *testing.T) {
	h := newHarness(t, func(cfg *config.Config) { cfg.InstallationID = "" }) // an older release
	h.cloud.LaunchState = cloud.Running
	reqID := h.request("Spot", 2)
	h.status(reqID) // HostFactory follows it
	ours := h.instances(reqID)
	failed := store.Request{ID: "req-failed", Kind: store.KindCreate, TemplateID: "T", MachineCount: 1, State: store.StateFailed, ClientToken: "req-failed"}
	if err := h.st.CreateRequest(h.ctx(), &failed, nil); err != nil {
		t.Fatal(err)
	}
	h.cloud.Add(stray("i-leak", "req-failed", "", epoch))      // a leak of this store, from before ids
	h.cloud.Add(stray("i-theirs", "req-elsewhere", "", epoch)) // another old installation's
	// A host this store knows whose request tag names no stored request.
	h.cloud.Add(stray("i-known", "", "", epoch))
	if err := h.st.SaveMachines(h.ctx(), []store.Machine{{InstanceID: "i-known", RequestID: reqID, TemplateID: "Spot", State: cloud.Running, Result: store.ResultSucceed}}); err != nil {
		t.Fatal(err)
	}
	h.cfg.InstallationID = installationID // upgraded
	h.clock.Set(epoch.Add(time.Hour))

	rec, err := h.b.Reconcile(h.ctx(), ReconcileOptions{})
	if err != nil || len(rec.Untagged) != 5 || rec.Checked != 0 || len(h.cloud.Terminated()) != 0 || len(h.cloud.Calls(fake.Tag)) != 0 {
		t.Fatalf("before the step: %+v, %v, terminated %v", rec, err, h.cloud.Terminated())
	}
	rec, err = h.b.Reconcile(h.ctx(), ReconcileOptions{AdoptUntagged: true, DryRun: true})
	if err != nil || len(rec.Claimed) != 4 || len(h.cloud.Calls(fake.Tag)) != 0 {
		t.Fatalf("dry run of the step: %+v, %v", rec, err)
	}
	rec, err = h.b.Reconcile(h.ctx(), ReconcileOptions{AdoptUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(ours), "i-known", "i-leak")
	slices.Sort(want)
	slices.Sort(rec.Claimed)
	if !slices.Equal(rec.Claimed, want) || !slices.Equal(rec.Untagged, []string{"i-theirs"}) {
		t.Fatalf("claimed %v, untagged %v; want %v and i-theirs", rec.Claimed, rec.Untagged, want)
	}
	if !slices.Equal(rec.Terminated, []string{"i-leak"}) || slices.Contains(h.cloud.Terminated(), "i-theirs") {
		t.Fatalf("terminated %v", h.cloud.Terminated())
	}
	for _, id := range want {
		if in, _ := h.cloud.Instance(id); in.Tags[cloud.TagInstallation] != installationID {
			t.Fatalf("%s tags %v", id, in.Tags)
		}
	}
	if in, _ := h.cloud.Instance("i-theirs"); in.Tags[cloud.TagInstallation] != "" {
		t.Fatalf("i-theirs was claimed: %v", in.Tags)
	}
}

// failingWrites is a store that cannot be written: a full disk.
type failingWrites struct{ store.Store }

var errDiskFull = errors.New("database or disk is full")

func (failingWrites) AppendEvents(context.Context, []store.Event) error   { return errDiskFull }
func (failingWrites) SaveMachines(context.Context, []store.Machine) error { return errDiskFull }
func (failingWrites) PutFact(context.Context, string, []byte) error       { return errDiskFull }
func (failingWrites) CreateRequest(context.Context, *store.Request, []store.Limit) error {
	return errDiskFull
}
func (failingWrites) UpdateRequest(context.Context, *store.Request, ...store.Machine) error {
	return errDiskFull
}

// While the store cannot be written, what only reads still answers, and
// nothing is launched or terminated, since it could not be recorded first.
func TestFullDisk(t *testing.T) {
	h := newHarness(t)
	h.cloud.LaunchState = cloud.Running
	done := h.request("T", 2)
	if st := h.status(done); st.Status != store.StateComplete {
		t.Fatalf("request %s", st.Status)
	}
	h.cloud.LaunchState = cloud.Pending
	stuck := h.request("T", 1) // stays pending past its timeout
	h.status(stuck)
	h.cloud.LaunchState = cloud.Running
	left, _ := h.leftBehind(store.StatePlaced) // HostFactory never got its id
	h.addStrays(3)
	h.cloud.Types["t3.micro"] = cloud.TypeFacts{Name: "t3.micro", VCPUs: 2, Cores: 1, MemoryMiB: 1024, Arch: "x86_64"}
	full := New(h.cfg, failingWrites{h.st}, h.cloud, WithClock(h.clock.Now))
	launches := len(h.cloud.Calls(fake.Launch))

	if ts, err := full.Templates(h.ctx()); err != nil || len(ts) != 2 {
		t.Fatalf("templates: %v, %v", ts, err)
	}
	if sts, err := full.Status(h.ctx(), []string{done}); err != nil || sts[0].Status != store.StateComplete || len(sts[0].Machines) != 2 {
		t.Fatalf("status of a finished request: %+v, %v", sts, err)
	}
	if _, err := full.RequestMachines(h.ctx(), MachineRequest{TemplateID: "T", Count: 1}); err == nil {
		t.Fatal("a request was taken that could not be stored")
	}
	if _, err := full.Reconcile(h.ctx(), ReconcileOptions{}); err == nil {
		t.Fatal("reconcile went on without recording")
	}
	if sts, _ := full.Status(h.ctx(), []string{stuck, left.ID}); len(sts) != 2 || sts[0].Machines[0].Result != store.ResultExecuting {
		t.Fatalf("a stuck instance was failed without being recorded: %+v", sts)
	}
	if _, _, err := full.ReturnMachines(h.ctx(), []store.MachineRef{{Name: h.machines(done)[0].Name, InstanceID: h.machines(done)[0].InstanceID}}); err == nil {
		t.Fatal("a return was taken that could not be stored")
	}
	if got := len(h.cloud.Calls(fake.Launch)); got != launches || len(h.cloud.Terminated()) != 0 {
		t.Fatalf("launched %d, terminated %v while the store could not be written", got-launches, h.cloud.Terminated())
	}
}
