package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// TestJudgeCreate is the machine verdict of a running create request: what
// the cloud says of each instance, at every side of the visibility grace
// and of the pending timeout.
func TestJudgeCreate(t *testing.T) {
	type want struct {
		result     store.Result
		state      cloud.State
		message    string // exact
		terminated bool
	}
	stuck := fmt.Sprintf("Instance stayed pending for more than %s; terminated.", pendingTimeout)
	gone := want{store.ResultFail, cloud.Terminated, "Instance no longer exists.", false}
	cases := []struct {
		name    string
		stored  cloud.State  // the machine's state as last stored
		result  store.Result // the machine's result as last stored
		seen    *cloud.Instance
		age     time.Duration // since launch
		timeout time.Duration // AWS_INSTANCE_PENDING_TIMEOUT_SEC; -1 for none
		refuse  bool          // Terminate fails
		want    want
	}{
		{name: "running", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Running, Name: "ip-1"}, want: want{store.ResultSucceed, cloud.Running, "", false}},
		{name: "pending, young", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: time.Minute, want: want{store.ResultExecuting, cloud.Pending, "", false}},
		{name: "pending, just before the timeout", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: around(pendingTimeout)[0], want: want{store.ResultExecuting, cloud.Pending, "", false}},
		{name: "pending, at the timeout", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: around(pendingTimeout)[1], want: want{store.ResultExecuting, cloud.Pending, "", false}},
		{name: "pending, just after the timeout", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: around(pendingTimeout)[2], want: want{store.ResultFail, cloud.ShuttingDown, stuck, true}},
		{name: "pending long, no timeout", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: 24 * time.Hour, timeout: -1, want: want{store.ResultExecuting, cloud.Pending, "", false}},
		{name: "pending past the timeout, terminate refused", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.Pending}, age: time.Hour, refuse: true, want: want{store.ResultExecuting, cloud.Pending, "", true}},
		// A poll leaves pending instances out: one stored pending and not
		// seen is still pending, whatever its age, and times out as such.
		{name: "stored pending, unseen, old", stored: cloud.Pending, age: around(pendingTimeout)[0], want: want{store.ResultExecuting, cloud.Pending, "", false}},
		{name: "stored pending, unseen, past the timeout", stored: cloud.Pending, age: around(pendingTimeout)[2], want: want{store.ResultFail, cloud.ShuttingDown, stuck, true}},
		{name: "never described, unseen", stored: cloud.Unknown, age: time.Minute, want: want{store.ResultExecuting, cloud.Pending, "", false}},
		// A machine seen running once and now missing had the visibility
		// grace to show up; past it, it is gone.
		{name: "stored running, unseen, just before the grace", stored: cloud.Running, result: store.ResultSucceed, age: around(visibilityGrace)[0], want: want{store.ResultExecuting, cloud.Running, "", false}},
		{name: "stored running, unseen, at the grace", stored: cloud.Running, result: store.ResultSucceed, age: around(visibilityGrace)[1], want: gone},
		{name: "stored running, unseen, just after the grace", stored: cloud.Running, result: store.ResultSucceed, age: around(visibilityGrace)[2], want: gone},
		{name: "terminated with a reason", stored: cloud.Running, seen: &cloud.Instance{State: cloud.Terminated, StateReason: "Server.SpotInstanceTermination"}, age: time.Hour,
			want: want{store.ResultFail, cloud.Terminated, "Instance is terminated: Server.SpotInstanceTermination", false}},
		{name: "stopped", stored: cloud.Running, seen: &cloud.Instance{State: cloud.Stopped}, age: time.Hour, want: want{store.ResultFail, cloud.Stopped, "Instance is stopped.", false}},
		{name: "shutting down", stored: cloud.Pending, seen: &cloud.Instance{State: cloud.ShuttingDown}, want: want{store.ResultFail, cloud.ShuttingDown, "Instance is shutting-down.", false}},
		// A failed machine stays failed, even if the cloud shows it running.
		{name: "failed stays failed", stored: cloud.Terminated, result: store.ResultFail, seen: &cloud.Instance{State: cloud.Running}, want: want{store.ResultFail, cloud.Terminated, "", false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *config.Config) {
				switch {
				case c.timeout < 0:
					cfg.AWS.PendingTimeout = 0
				case c.timeout > 0:
					cfg.AWS.PendingTimeout = c.timeout
				}
			})
			if c.refuse {
				h.cloud.Fail(fake.Terminate, errors.New("UnauthorizedOperation"))
			}
			r := &store.Request{ID: "req-1", Kind: store.KindCreate, State: store.StateRunning}
			m := store.Machine{InstanceID: "i-1", RequestID: r.ID, State: c.stored, Result: c.result, LaunchTime: epoch}
			if m.Result == "" {
				m.Result = store.ResultExecuting
			}
			p := newPoll(m)
			if c.seen != nil {
				inst := *c.seen
				inst.ID = m.InstanceID
				p.seen[inst.ID] = inst
			}
			h.clock.Set(epoch.Add(c.age))
			h.b.judgeCreate(h.ctx(), p, r)

			got := p.machines[m.InstanceID]
			if got.Result != c.want.result || got.State != c.want.state || got.Message != c.want.message {
				t.Errorf("machine: result %q state %q message %q; want %q %q %q",
					got.Result, got.State, got.Message, c.want.result, c.want.state, c.want.message)
			}
			if terminated := len(h.cloud.Calls(fake.Terminate)) > 0; terminated != c.want.terminated {
				t.Errorf("terminate called: %v, want %v", terminated, c.want.terminated)
			}
			if changed := got.Result != m.Result || got.State != m.State || got.Message != m.Message; changed && !p.changed[m.InstanceID] {
				t.Error("the machine changed, but the poll would not save it")
			}
			if c.seen != nil && c.seen.Name != "" && got.Name != c.seen.Name {
				t.Errorf("name %q, want %q from the cloud", got.Name, c.seen.Name)
			}
		})
	}
}

// newPoll is a poll over the given machines, with an empty view of the
// cloud.
func newPoll(ms ...store.Machine) *poll {
	p := &poll{
		machines:  map[string]*store.Machine{},
		byRequest: map[string][]*store.Machine{},
		byReturn:  map[string][]*store.Machine{},
		seen:      map[string]cloud.Instance{},
		changed:   map[string]bool{},
	}
	for i := range ms {
		p.add(&ms[i])
	}
	return p
}

// TestCreateStatus is a create request's status through getRequestStatus:
// from its state and its machines' verdicts to what HostFactory is told,
// and what is stored.
func TestCreateStatus(t *testing.T) {
	cases := []struct {
		name string
		// prepare acts on the cloud after the launch of 2 machines.
		prepare     func(h *harness, id string)
		wantStatus  store.State
		wantMessage string
		wantResults []store.Result
		wantRetired bool
	}{
		{
			name:        "all pending",
			prepare:     func(h *harness, id string) {},
			wantStatus:  store.StateRunning,
			wantResults: []store.Result{store.ResultExecuting, store.ResultExecuting},
		},
		{
			name:        "one running, one pending",
			prepare:     func(h *harness, id string) { h.cloud.Set(h.instances(id)[0], cloud.Running, "") },
			wantStatus:  store.StateRunning,
			wantResults: []store.Result{store.ResultSucceed, store.ResultExecuting},
		},
		{
			name:        "all running",
			prepare:     func(h *harness, id string) { h.setAll(id, cloud.Running) },
			wantStatus:  store.StateComplete,
			wantResults: []store.Result{store.ResultSucceed, store.ResultSucceed},
		},
		{
			name: "one failed",
			prepare: func(h *harness, id string) {
				h.setAll(id, cloud.Running)
				h.cloud.Set(h.instances(id)[1], cloud.Terminated, "Server.InternalError")
			},
			wantStatus:  store.StateCompleteWithError,
			wantMessage: "1 of 2 machines obtained.",
			wantResults: []store.Result{store.ResultSucceed, store.ResultFail},
		},
		{
			name:        "all failed: the placement is retired",
			prepare:     func(h *harness, id string) { h.setAll(id, cloud.Terminated) },
			wantStatus:  store.StateCompleteWithError,
			wantMessage: "0 of 2 machines obtained.",
			wantResults: []store.Result{store.ResultFail, store.ResultFail},
			wantRetired: true,
		},
		{
			name: "cloud unreachable: running as last seen",
			prepare: func(h *harness, id string) {
				h.setAll(id, cloud.Running)
				h.cloud.Fail(fake.Instances, errors.New("RequestLimitExceeded"))
			},
			wantStatus:  store.StateRunning,
			wantResults: []store.Result{store.ResultExecuting, store.ResultExecuting},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.request("T", 2)
			c.prepare(h, id)
			sts, err := h.b.Status(h.ctx(), []string{id})
			if cloudDown := len(h.cloud.Calls(fake.Instances)) > 0 && err != nil; err != nil && !cloudDown {
				t.Fatal(err)
			}
			st := sts[0]
			if st.Status != c.wantStatus || st.Message != c.wantMessage {
				t.Errorf("status %q %q, want %q %q", st.Status, st.Message, c.wantStatus, c.wantMessage)
			}
			var results []store.Result
			for _, m := range st.Machines {
				results = append(results, m.Result)
			}
			if !slices.Equal(results, c.wantResults) {
				t.Errorf("results %v, want %v", results, c.wantResults)
			}
			if r := h.stored(id); c.wantStatus != store.StateRunning && r.State != c.wantStatus {
				t.Errorf("stored state %q, want %q", r.State, c.wantStatus)
			}
			if retired := len(h.cloud.Calls(fake.Retire)) > 0; retired != c.wantRetired {
				t.Errorf("placement retired: %v, want %v", retired, c.wantRetired)
			}
		})
	}
}

// A finished request answers from the store: its machines are frozen, and
// the cloud is not asked again.
func TestFinishedRequestNeedsNoCloud(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	if st := h.status(id); st.Status != store.StateComplete {
		t.Fatalf("%+v", st)
	}
	before := len(h.cloud.Calls(""))
	h.setAll(id, cloud.Terminated) // later changes do not reopen it
	st := h.status(id)
	if st.Status != store.StateComplete || st.Machines[0].Result != store.ResultSucceed {
		t.Errorf("finished request changed: %+v", st)
	}
	if calls := h.cloud.Calls("")[before:]; len(calls) != 0 {
		t.Errorf("a finished request called the cloud: %+v", calls)
	}
}

// An unknown id gets complete_with_error without failing the others.
func TestStatusOfUnknownRequest(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 1)
	sts, err := h.b.Status(h.ctx(), []string{"req-nope", id})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Status != store.StateCompleteWithError || !strings.Contains(sts[0].Message, "not found") {
		t.Errorf("unknown: %+v", sts[0])
	}
	if sts[1].ID != id || sts[1].Status != store.StateRunning {
		t.Errorf("known: %+v", sts[1])
	}
}

// TestOnlyStatusClaims is the claim rule: only HostFactory's poll (Status)
// marks a placed request as seen by HostFactory. A person's look (Refresh)
// reads the cloud and records it, but neither claims nor finishes the
// request, so that one HostFactory never got is still recovered.
func TestOnlyStatusClaims(t *testing.T) {
	for _, c := range []struct {
		name          string
		look          func(b *Broker) func(context.Context, []string) ([]RequestStatus, error)
		wantStatus    store.State // answered with every instance running
		wantRecovered bool
	}{
		{"Refresh", func(b *Broker) func(context.Context, []string) ([]RequestStatus, error) { return b.Refresh }, store.StatePlaced, true},
		{"Status", func(b *Broker) func(context.Context, []string) ([]RequestStatus, error) { return b.Status }, store.StateComplete, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			id := h.request("T", 2)
			look := c.look(h.b)
			for _, state := range []cloud.State{cloud.Pending, cloud.Running} {
				h.setAll(id, state)
				sts, err := look(h.ctx(), []string{id})
				if err != nil {
					t.Fatal(err)
				}
				if state == cloud.Running && (sts[0].Status != c.wantStatus || sts[0].Machines[0].Result != store.ResultSucceed) {
					t.Fatalf("answered %+v, want %s with machines succeeded", sts[0], c.wantStatus)
				}
			}
			if ms := h.machines(id); ms[0].State != cloud.Running {
				t.Errorf("what the cloud said was not recorded: %+v", ms[0])
			}
			// HostFactory's time to ask passes.
			h.clock.Set(h.stored(id).CreatedAt.Add(creationTimeout))
			h.b.recoverPending(h.ctx())
			if recovered := h.stored(id).State == store.StateFailed; recovered != c.wantRecovered {
				t.Errorf("recovered: %v, want %v", recovered, c.wantRecovered)
			}
			if terminated := len(h.cloud.Terminated()) == 2; terminated != c.wantRecovered {
				t.Errorf("instances terminated: %v", h.cloud.Terminated())
			}
		})
	}
}

// TestStatusClaimsOnlyGrantedRequests: getRequestStatus claims a request,
// and a claim stops recovery from terminating what it launched, so a
// principal may ask only about requests it could have made: a create
// request of a template it is granted, a return request of machines of
// such templates. Otherwise the whole call is PERMISSION_DENIED, recorded
// as access.denied, claims nothing, and recovery still takes the leaked
// requests.
func TestStatusClaimsOnlyGrantedRequests(t *testing.T) {
	alice := access.Principal{Name: "alice", Role: access.Operator, Templates: []string{"T"}, Source: "token"}
	for _, c := range []struct {
		name      string
		principal access.Principal
		ask       []string // of mine, theirs (placed), returnMine, returnTheirs, unknown
		missing   string   // the grant denied for; "" when allowed
	}{
		{"own request", alice, []string{"mine"}, ""},
		{"another template's request", alice, []string{"theirs"}, "Spot"},
		{"own and another's together", alice, []string{"mine", "theirs"}, "Spot"},
		{"own return request", alice, []string{"returnMine"}, ""},
		{"return of another template's machines", alice, []string{"returnTheirs"}, "Spot"},
		{"unknown id", alice, []string{"unknown", "mine"}, ""},
		{"pattern grant", access.Principal{Name: "bob", Role: access.Operator, Templates: []string{"*"}}, []string{"mine", "theirs"}, ""},
		{"HostFactory's service user", access.Principal{Name: "egoadmin", Role: access.Admin, Source: "HostFactory service user"}, []string{"mine", "theirs", "returnTheirs"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			ret := func(template string) string {
				m := h.runningMachine(template)
				id, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: m.Name, InstanceID: m.InstanceID}})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			ids := map[string]string{"returnMine": ret("T"), "returnTheirs": ret("Spot"),
				"mine": h.request("T", 1), "theirs": h.request("Spot", 1), "unknown": "req-nope"}
			WithPrincipal(c.principal)(h.b)
			var ask []string
			for _, k := range c.ask {
				ask = append(ask, ids[k])
			}
			_, err := h.b.Status(h.ctx(), ask)
			var fe *fault.Error
			switch {
			case c.missing == "" && err != nil:
				t.Fatalf("allowed call: %v", err)
			case c.missing != "" && (!errors.As(err, &fe) || fe.Code != fault.PermissionDenied || fe.Details["missing_grant"] != c.missing):
				t.Fatalf("got %v, want PERMISSION_DENIED for template %s", err, c.missing)
			}
			es, _ := h.st.Events(h.ctx(), store.EventQuery{})
			denied := 0
			for _, e := range es {
				if e.Action == ActionAccessDenied && strings.Contains(e.Detail, c.principal.String()) {
					denied++
				}
			}
			if want := map[bool]int{true: 1}[c.missing != ""]; denied != want {
				t.Errorf("%d access.denied events, want %d", denied, want)
			}
			for _, k := range []string{"mine", "theirs"} {
				claimed := h.stored(ids[k]).State != store.StatePlaced
				if want := c.missing == "" && slices.Contains(c.ask, k); claimed != want {
					t.Errorf("%s claimed: %v, want %v", k, claimed, want)
				}
			}
			if c.missing == "" {
				return
			}
			// HostFactory's time to ask passes: recovery takes what the
			// denied call asked about.
			h.clock.Set(h.stored(ids["theirs"]).CreatedAt.Add(creationTimeout))
			h.b.recoverPending(h.ctx())
			for _, k := range c.ask {
				if s := h.stored(ids[k]); s.Kind == store.KindCreate && s.State != store.StateFailed {
					t.Errorf("%s not recovered: %s", k, s.State)
				}
			}
		})
	}
}

// TestOngoingPlacement follows a placement the cloud keeps filling (a
// fleet or group): the request runs while the cloud owes machines, takes
// in the instances it launches later by their tag, and completes on what
// was found once the cloud says it is done, with the cloud's reasons.
func TestOngoingPlacement(t *testing.T) {
	h := newHarness(t)
	h.cloud.Ongoing, h.cloud.LaunchShort, h.cloud.LaunchState = true, 2, cloud.Running
	id := h.request("T", 4)
	ref := h.stored(id).CloudRef
	want := func(status store.State, outstanding, machines int) {
		t.Helper()
		st := h.status(id)
		if st.Status != status || len(st.Machines) != machines {
			t.Fatalf("status %s with %d machines, want %s with %d", st.Status, len(st.Machines), status, machines)
		}
		if r := h.stored(id); r.Outstanding != outstanding {
			t.Errorf("outstanding %d, want %d", r.Outstanding, outstanding)
		}
	}
	want(store.StateRunning, 2, 2)

	// The fleet launches a third; the cloud is not done.
	h.cloud.Add(cloud.Instance{ID: "i-late", Name: "ip-10-0-9-9.ec2.internal", State: cloud.Pending, LaunchTime: epoch,
		Tags: map[string]string{cloud.TagRequestID: id, cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	want(store.StateRunning, 1, 3)

	// The cloud gives up on the fourth; the third is still on its way.
	h.cloud.Progress[ref] = cloud.Fulfilment{Done: true, Errors: []string{"InsufficientInstanceCapacity"}}
	want(store.StateRunning, 0, 3)

	h.cloud.Set("i-late", cloud.Running, "")
	want(store.StateCompleteWithError, 0, 3)
	if r := h.stored(id); r.Message != "3 of 4 machines obtained. InsufficientInstanceCapacity" {
		t.Errorf("message %q", r.Message)
	}
}

// A request whose machines were all seen running by a person's look
// (Refresh) is not finished by HostFactory's poll while the cloud cannot
// be asked: a machine may have gone since.
func TestNoFinishWithoutTheCloud(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	h.setAll(id, cloud.Running)
	if _, err := h.b.Refresh(h.ctx(), []string{id}); err != nil {
		t.Fatal(err)
	}
	h.cloud.Fail(fake.Instances, errors.New("RequestLimitExceeded"))
	sts, err := h.b.Status(h.ctx(), []string{id})
	if fault.CodeOf(err) != fault.Cloud {
		t.Errorf("error %v, want a CLOUD_ERROR", err)
	}
	if sts[0].Status != store.StateRunning || h.stored(id).State != store.StateRunning {
		t.Errorf("answered %s, stored %s; want running, claimed, not finished", sts[0].Status, h.stored(id).State)
	}
}

// A running instance with neither a private DNS name nor an address has
// nothing HostFactory could reach it by: it stays executing, however old.
func TestRunningWithoutAnAddress(t *testing.T) {
	h := newHarness(t)
	m := &store.Machine{InstanceID: "i-1", State: cloud.Running, Result: store.ResultExecuting, LaunchTime: epoch}
	h.b.succeedRunning(&store.Request{ID: "req-1"}, m, epoch.Add(time.Hour))
	if m.Result != store.ResultExecuting || m.Name != "" {
		t.Errorf("machine %s named %q, want executing without a name", m.Result, m.Name)
	}
}

// TestPollNamesKnownMachines: a poll describes the machines it knows by
// their instance ids, only those that left pending, and never a failed
// one (issue 9: a filter-only describe fails while an Availability Zone
// is disrupted). Only a placement that still launches is searched by its
// request tag, for the instances it has not named yet.
func TestPollNamesKnownMachines(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ongoing     bool
		wantByTag   bool
		wantAdopted int
	}{
		{name: "launched at once (RunInstances, instant fleet)"},
		{name: "a fleet that keeps launching", ongoing: true, wantByTag: true, wantAdopted: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.cloud.Ongoing = tc.ongoing
			n := 3
			if tc.ongoing {
				// It owes one more.
				h.cloud.LaunchShort, n = 1, 4
			}
			id := h.request("T", n)
			ids := h.instances(id)
			h.cloud.Set(ids[0], cloud.Running, "")
			h.cloud.Set(ids[1], cloud.Terminated, "Server.InternalError")
			h.status(id) // the first fails
			// One more instance of the request that the store does not know.
			h.cloud.Add(cloud.Instance{ID: "i-late", State: cloud.Pending, Tags: map[string]string{cloud.TagRequestID: id}})
			before := len(h.cloud.Calls(fake.Instances))

			st := h.status(id)

			calls := h.cloud.Calls(fake.Instances)[before:]
			if len(calls) != 1 {
				t.Fatalf("%d describes, want 1", len(calls))
			}
			q := calls[0].Query
			if want := []string{ids[0], ids[2]}; !slices.Equal(q.Settling, want) || len(q.InstanceIDs) != 0 {
				t.Errorf("described by id %v (settling) and %v, want %v settling: the failed one is not asked about", q.Settling, q.InstanceIDs, want)
			}
			if byTag := slices.Contains(q.RequestIDs, id); byTag != tc.wantByTag {
				t.Errorf("searched by request tag: %v, want %v", byTag, tc.wantByTag)
			}
			if adopted := len(st.Machines) - 3; adopted != tc.wantAdopted {
				t.Errorf("%d instances adopted, want %d", adopted, tc.wantAdopted)
			}
		})
	}
}

// A cloud that cannot be asked says nothing of the machines: however long
// the outage, a running machine is not taken for gone, a pending one is
// not terminated for its age, and nothing stored changes.
func TestCloudOutageJudgesNoMachine(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 2)
	up := h.instances(id)[0]
	h.cloud.Set(up, cloud.Running, "")
	h.status(id)
	before := h.machines(id)
	h.clock.Advance(time.Hour) // past the visibility grace and the pending timeout
	h.cloud.Fail(fake.Instances, errors.New("RequestLimitExceeded"))

	sts, err := h.b.Status(h.ctx(), []string{id})

	if fault.CodeOf(err) != fault.Cloud {
		t.Errorf("error %v, want a CLOUD_ERROR", err)
	}
	for _, m := range sts[0].Machines {
		if want := map[bool]store.Result{true: store.ResultSucceed, false: store.ResultExecuting}[m.InstanceID == up]; m.Result != want {
			t.Errorf("machine %s answered %s, want %s as last seen", m.InstanceID, m.Result, want)
		}
	}
	if after := h.machines(id); !reflect.DeepEqual(after, before) {
		t.Errorf("stored machines changed while the cloud could not be asked:\n%+v\nwas\n%+v", after, before)
	}
	if got := h.cloud.Terminated(); len(got) != 0 {
		t.Errorf("terminated %v while the cloud could not be asked", got)
	}
}

// Instances a placement launches later are adopted into the request their
// tag names, also when one poll asks about several requests.
func TestAdoptedIntoTheirOwnRequest(t *testing.T) {
	h := newHarness(t)
	h.cloud.Ongoing, h.cloud.LaunchShort = true, 1 // each fleet owes one
	a, b := h.request("T", 2), h.request("T", 2)
	for _, late := range []struct{ id, request string }{{"i-late-a", a}, {"i-late-b", b}} {
		h.cloud.Add(cloud.Instance{ID: late.id, Name: late.id + ".ec2.internal", State: cloud.Running, LaunchTime: epoch,
			Tags: map[string]string{cloud.TagRequestID: late.request, cloud.TagProvider: provider, cloud.TagInstallation: installationID}})
	}
	if _, err := h.b.Status(h.ctx(), []string{a, b}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ request, late, other string }{{a, "i-late-a", "i-late-b"}, {b, "i-late-b", "i-late-a"}} {
		ids := make([]string, 0, 3)
		for _, m := range h.machines(c.request) {
			ids = append(ids, m.InstanceID)
		}
		if !slices.Contains(ids, c.late) || slices.Contains(ids, c.other) {
			t.Errorf("request %s holds %v; want %s and not %s", c.request, ids, c.late, c.other)
		}
	}
}

// While a fleet or group still owes machines, the reasons the cloud gives
// are kept with the request as they come, before it is done.
func TestOngoingPlacementKeepsTheCloudsReasons(t *testing.T) {
	h := newHarness(t)
	h.cloud.Ongoing, h.cloud.LaunchShort = true, 1
	id := h.request("T", 2)
	h.status(id)
	h.cloud.Progress[h.stored(id).CloudRef] = cloud.Fulfilment{Errors: []string{"InsufficientInstanceCapacity"}}
	h.status(id)
	if r := h.stored(id); r.Outstanding != 1 || r.Message != "InsufficientInstanceCapacity" {
		t.Errorf("stored outstanding %d, message %q; want 1 and the cloud's reason", r.Outstanding, r.Message)
	}
}

// What a poll asks of the cloud is what is still open: no fulfilment for a
// placement that owes nothing, and no search by its request tag then; no
// describe at all for finished requests of either kind.
func TestPollsAskOnlyWhatIsOpen(t *testing.T) {
	h := newHarness(t)
	h.cloud.Ongoing = true // a fleet that launched all it was asked for at once
	id := h.request("T", 1)
	h.status(id)
	if calls := h.cloud.Calls(fake.Fulfilment); len(calls) != 0 {
		t.Errorf("a placement owing nothing was asked for its fulfilment: %+v", calls)
	}
	if calls := h.cloud.Calls(fake.Instances); len(calls) == 0 || len(calls[len(calls)-1].Query.RequestIDs) != 0 {
		t.Errorf("a placement owing nothing was searched by its request tag: %+v", calls)
	}

	h.setAll(id, cloud.Running)
	if st := h.status(id); st.Status != store.StateComplete {
		t.Fatalf("create request %s", st.Status)
	}
	retID, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{ref0(h.machines(id)[0])})
	if err != nil {
		t.Fatal(err)
	}
	h.setAll(id, cloud.Terminated)
	if st := h.status(retID); st.Status != store.StateComplete {
		t.Fatalf("return %s", st.Status)
	}
	before := len(h.cloud.Calls(""))
	if _, err := h.b.Status(h.ctx(), []string{id, retID}); err != nil {
		t.Fatal(err)
	}
	if calls := h.cloud.Calls("")[before:]; len(calls) != 0 {
		t.Errorf("finished requests called the cloud: %+v", calls)
	}
}

// TestSucceedRunning names a running machine for HostFactory: by its
// private DNS name, else after nameGrace by its private IP, else its public
// one; with no address at all it stays executing.
func TestSucceedRunning(t *testing.T) {
	for _, c := range []struct {
		name              string
		dns, private, pub string
		age               time.Duration
		wantResult        store.Result
		wantName          string
	}{
		{"named", "ip-10-0-0-1.ec2.internal", "10.0.0.1", "54.1.2.3", 0, store.ResultSucceed, "ip-10-0-0-1.ec2.internal"},
		{"unnamed, young", "", "10.0.0.1", "54.1.2.3", nameGrace - time.Nanosecond, store.ResultExecuting, ""},
		{"unnamed: the private IP first", "", "10.0.0.1", "54.1.2.3", nameGrace, store.ResultSucceed, "ip-10-0-0-1"},
		{"unnamed, public IP only", "", "", "54.1.2.3", nameGrace, store.ResultSucceed, "ip-54-1-2-3"},
		{"no address", "", "", "", time.Hour, store.ResultExecuting, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			m := &store.Machine{InstanceID: "i-1", Name: c.dns, PrivateIP: c.private, PublicIP: c.pub, State: cloud.Running,
				Result: store.ResultExecuting, Message: "was pending", LaunchTime: epoch}
			h.b.succeedRunning(&store.Request{ID: "req-1"}, m, epoch.Add(c.age))
			if m.Result != c.wantResult || m.Name != c.wantName {
				t.Errorf("%s named %q, want %s named %q", m.Result, m.Name, c.wantResult, c.wantName)
			}
			if m.Result == store.ResultSucceed && m.Message != "" {
				t.Errorf("a succeeded machine keeps message %q", m.Message)
			}
		})
	}
}

// TestObserve is what a machine keeps of the cloud's view: cores and
// threads as the instance runs (one thread a core when the cloud does not
// say), and what the cloud leaves out keeps its last value.
func TestObserve(t *testing.T) {
	before := store.Machine{InstanceID: "i-1", Name: "ip-10-0-0-1.ec2.internal", PrivateIP: "10.0.0.1", PublicIP: "54.1.2.3",
		PublicDNS: "ec2-54-1-2-3.compute-1.amazonaws.com", InstanceType: "m5.large", Cores: 1, Threads: 2, LaunchTime: epoch}
	for _, c := range []struct {
		name string
		inst cloud.Instance
		want func(m *store.Machine)
	}{
		{"threads per core given", cloud.Instance{State: cloud.Running, Cores: 4, ThreadsPerCore: 2}, func(m *store.Machine) {
			m.Cores, m.Threads, m.PublicIP = 4, 8, ""
		}},
		{"threads per core not said", cloud.Instance{State: cloud.Running, Cores: 4}, func(m *store.Machine) {
			m.Cores, m.Threads, m.PublicIP = 4, 4, ""
		}},
		{"nothing said but the state", cloud.Instance{State: cloud.Stopped}, func(m *store.Machine) { m.PublicIP = "" }},
		{"spot, all said", cloud.Instance{State: cloud.Running, Name: "ip-10-0-0-2.ec2.internal", PrivateIP: "10.0.0.2", PublicIP: "54.9.9.9",
			PublicDNS: "ec2-54-9-9-9", InstanceType: "c5.large", Spot: true, LaunchTime: epoch.Add(time.Minute)}, func(m *store.Machine) {
			m.Name, m.PrivateIP, m.PublicIP, m.PublicDNS, m.InstanceType, m.LaunchTime = "ip-10-0-0-2.ec2.internal", "10.0.0.2", "54.9.9.9", "ec2-54-9-9-9", "c5.large", epoch.Add(time.Minute)
			m.PriceType = config.PriceSpot
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := before
			observe(&got, c.inst)
			want := before
			want.State, want.PriceType = c.inst.State, config.PriceOnDemand
			c.want(&want)
			if got != want {
				t.Errorf("observed\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestMachinesSeenAt: a stored machine says when its recorded state was
// seen (the listings' seen_at): at launch, and again when a poll sees it
// change, but not on a poll that sees nothing new.
func TestMachinesSeenAt(t *testing.T) {
	h := newHarness(t)
	id := h.request("T", 1)
	for _, m := range h.machines(id) {
		if !m.UpdatedAt.Equal(epoch) {
			t.Errorf("launched machine %s seen at %v, want %v", m.InstanceID, m.UpdatedAt, epoch)
		}
	}
	h.clock.Advance(time.Minute)
	h.setAll(id, cloud.Running)
	h.status(id)
	h.clock.Advance(time.Minute)
	h.status(id)
	for _, m := range h.machines(id) {
		if want := epoch.Add(time.Minute); !m.UpdatedAt.Equal(want) {
			t.Errorf("running machine %s seen at %v, want %v", m.InstanceID, m.UpdatedAt, want)
		}
	}
}
