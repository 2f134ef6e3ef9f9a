package broker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/cloud/fake"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
	"github.com/ohfp/ohfp/internal/store"
)

// withPolicies configures ps (parsed the way the file's values read).
func withPolicies(ps ...policy.Policy) func(*config.Config) {
	return func(c *config.Config) { c.Policies = ps }
}

func pol(name string, maxNumber, maxVCPUs int, step string, match map[policy.Dimension][]string) policy.Policy {
	p := policy.Policy{Name: name, MaxNumber: maxNumber, MaxVCPUs: maxVCPUs, Consumer: policy.Consumer{Match: match}}
	if step != "" {
		p.Step, _ = policy.ParseStep(step)
	}
	return p
}

// ask requests n machines of T as account and user, and returns what was
// granted or the refusal.
func (h *harness) ask(account, user string, n int) (Granted, *fault.Error) {
	h.t.Helper()
	g, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "T", Count: n, RCAccount: account, User: user})
	var fe *fault.Error
	if err != nil && !errors.As(err, &fe) {
		h.t.Fatalf("RequestMachines: %v", err)
	}
	return g, fe
}

func TestAdmission(t *testing.T) {
	everyone := map[policy.Dimension][]string{policy.DimAccount: {"all"}, policy.DimTemplate: {"all"}, policy.DimProvider: {"all"}}
	for _, c := range []struct {
		name     string
		policies []policy.Policy
		steps    []struct {
			account, user string
			ask, want     int
		}
		refusedBy, limit string // of the last step, when it grants 0
	}{
		{name: "no policy: the whole request", steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 4, 4}}},
		{name: "MaxNumber trims, then refuses", policies: []policy.Policy{pol("P", 5, -1, "", everyone)}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 3, 3}, {"", "", 3, 2}, {"", "", 1, 0}}, refusedBy: "P", limit: "MaxNumber"},
		{name: "tightest of several wins", policies: []policy.Policy{pol("wide", 8, -1, "", everyone), pol("narrow", 2, -1, "", map[policy.Dimension][]string{policy.DimAccount: {"proj"}})}, steps: []struct {
			account, user string
			ask, want     int
		}{{"proj", "", 5, 2}, {"other", "", 9, 6}, {"other", "", 1, 0}}, refusedBy: "wide", limit: "MaxNumber"},
		{name: "user extension", policies: []policy.Policy{pol("alice", 1, -1, "", map[policy.Dimension][]string{policy.DimUser: {"alice"}})}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "bob", 3, 3}, {"", "alice", 3, 1}, {"", "alice", 1, 0}}, refusedBy: "alice", limit: "MaxNumber"},
		{name: "MaxVCPUs counts 2 per t3.micro", policies: []policy.Policy{pol("cpu", -1, 7, "", everyone)}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 5, 3}, {"", "", 1, 0}}, refusedBy: "cpu", limit: "MaxVCPUs"},
		{name: "StepValue per window", policies: []policy.Policy{pol("step", -1, -1, "4:10", everyone)}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 3, 3}, {"", "", 3, 1}, {"", "", 1, 0}}, refusedBy: "step", limit: "StepValue"},
		{name: "template maxNumber refuses whole", policies: []policy.Policy{pol("P", 50, -1, "", everyone)}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 8, 8}, {"", "", 3, 0}}, refusedBy: "", limit: "maxNumber"},
		{name: "template maxNumber admits an exact fit", policies: []policy.Policy{pol("P", 50, -1, "", everyone)}, steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 8, 8}, {"", "", 2, 2}, {"", "", 1, 0}}, refusedBy: "", limit: "maxNumber"},
		// Without policies the store's check of maxNumber is the whole
		// admission: its refusal is final, and says which limit.
		{name: "no policy: template maxNumber refuses whole", steps: []struct {
			account, user string
			ask, want     int
		}{{"", "", 8, 8}, {"", "", 3, 0}}, refusedBy: "", limit: "maxNumber"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, withPolicies(c.policies...))
			h.cloud.Types = map[string]cloud.TypeFacts{"t3.micro": {VCPUs: 2, MemoryMiB: 1024}}
			for i, s := range c.steps {
				g, refused := h.ask(s.account, s.user, s.ask)
				if s.want == 0 {
					if refused == nil || refused.Code != fault.QuotaExceeded {
						t.Fatalf("step %d: granted %+v, want QUOTA_EXCEEDED", i, g)
					}
					if refused.Details["limit"] != c.limit || (c.refusedBy != "" && refused.Details["policy"] != c.refusedBy) {
						t.Errorf("step %d: refusal details %v, want policy %q limit %s", i, refused.Details, c.refusedBy, c.limit)
					}
					continue
				}
				if refused != nil || g.Machines != s.want || len(h.instances(g.ID)) != s.want {
					t.Fatalf("step %d: asked %d, granted %+v (%v) with %d instances, want %d", i, s.ask, g, refused, len(h.instances(g.ID)), s.want)
				}
				if trimmed := s.want < s.ask; trimmed != (g.Note != "") {
					t.Errorf("step %d: note %q", i, g.Note)
				}
			}
		})
	}
}

func TestRefusalDetailsAndAudit(t *testing.T) {
	h := newHarness(t, withPolicies(pol("step", -1, -1, "2:10", nil)))
	h.clock.Set(time.Date(2026, 3, 1, 12, 3, 0, 0, time.UTC))
	h.ask("proj", "alice", 2)
	before := len(h.cloud.Calls(""))
	_, refused := h.ask("proj", "alice", 1)
	if refused == nil {
		t.Fatal("third machine in a window of 2 was granted")
	}
	d := refused.Details
	if d["policy"] != "step" || d["limit"] != "StepValue" || d["max"] != 2 || d["use"] != 2 || d["requested"] != 1 || d["frees_at"] != "2026-03-01T12:10:00Z" {
		t.Errorf("details = %v", d)
	}
	if !strings.Contains(refused.Message, "frees at 2026-03-01T12:10:00Z (in 7m0s)") {
		t.Errorf("message = %s", refused.Message)
	}
	if calls := h.cloud.Calls("")[before:]; len(calls) != 0 {
		t.Errorf("a refused request called the cloud: %v", calls)
	}
	es, err := h.st.Events(h.ctx(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Action != ActionRequestRefused || !strings.Contains(es[0].Detail, "account proj, user alice") {
		t.Errorf("newest event %+v, want a refusal naming the account and user", es[0])
	}
	// The window ends: room again, counted from zero.
	h.clock.Set(time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC))
	if g, refused := h.ask("proj", "alice", 3); refused != nil || g.Machines != 2 {
		t.Errorf("next window granted %+v, %v; want 2", g, refused)
	}
}

func TestAvailableNumberLoweredByUniversalPolicies(t *testing.T) {
	h := newHarness(t, withPolicies(
		pol("all", 6, -1, "", nil),
		pol("proj-only", 1, -1, "", map[policy.Dimension][]string{policy.DimAccount: {"proj"}}),
		pol("other-provider", 0, -1, "", map[policy.Dimension][]string{policy.DimProvider: {"elsewhere"}}),
	))
	h.ask("x", "", 2)
	ts, err := h.b.Templates(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range ts {
		switch ti.ID {
		case "T": // maxNumber 10 holds 2: 8; policy "all" leaves 4
			if ti.Available != 4 || ti.Headroom != 4 {
				t.Errorf("T: available %d headroom %d, want 4 and 4", ti.Available, ti.Headroom)
			}
		case "Spot": // unlimited template: the policy's 4
			if ti.Available != 4 {
				t.Errorf("Spot: available %d, want 4", ti.Available)
			}
		}
	}
}

func TestCheckLaunchesNothing(t *testing.T) {
	h := newHarness(t, withPolicies(pol("P", 3, -1, "", nil)))
	a, err := h.b.Check(h.ctx(), MachineRequest{TemplateID: "T", Count: 5, RCAccount: "proj"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Granted != 3 || a.Tightest == nil || a.Tightest.Policy != "P" || len(a.Limits) != 2 || a.Caller.Account != "proj" {
		t.Errorf("check = %+v", a)
	}
	if n := len(h.cloud.Calls("")); n != 0 {
		t.Errorf("check made %d cloud calls", n)
	}
}

// runningHost requests one machine of template, has it run and polled,
// and returns it.
func (h *harness) runningHost(template string) store.Machine {
	h.t.Helper()
	id := h.request(template, 1)
	h.setAll(id, cloud.Running)
	h.status(id)
	return h.machines(id)[0]
}

func TestOperatorGrantsOnRequestAndReturn(t *testing.T) {
	h := newHarness(t)
	host := h.runningHost("Spot")
	WithPrincipal(access.Principal{Name: "alice", Role: access.Operator, Templates: []string{"T"}, Source: "token"})(h.b)
	if _, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "Spot", Count: 1}); fault.CodeOf(err) != fault.PermissionDenied {
		t.Errorf("request of an ungranted template: %v", err)
	}
	_, _, err := h.b.ReturnMachines(h.ctx(), []store.MachineRef{{Name: host.Name, InstanceID: host.InstanceID}})
	if fault.CodeOf(err) != fault.PermissionDenied || !strings.Contains(err.Error(), "template 'Spot'") {
		t.Errorf("return of an ungranted template's machine: %v", err)
	}
	if got := h.cloud.Terminated(); len(got) != 0 {
		t.Errorf("a denied return terminated %v", got)
	}
	if g, refused := h.ask("", "", 1); refused != nil || g.Machines != 1 {
		t.Errorf("request of the granted template: %+v %v", g, refused)
	}
	es, _ := h.st.Events(h.ctx(), store.EventQuery{})
	denied := 0
	for _, e := range es {
		if e.Action == ActionAccessDenied && strings.Contains(e.Detail, "alice (token)") {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("%d access.denied events naming alice, want 2", denied)
	}
}

// TestPoliciesEditedMidFlight: the configuration is read at each call, so
// an edit applies to the next request. A limit lowered below what its
// counter holds grants nothing until machines go; a policy added while
// machines run counts only what is granted from then on (docs/policies.md,
// "Changing policies").
func TestPoliciesEditedMidFlight(t *testing.T) {
	h := newHarness(t)
	h.cloud.Types = map[string]cloud.TypeFacts{"t3.micro": {VCPUs: 2, MemoryMiB: 1024}}
	if g, refused := h.ask("", "", 4); refused != nil || g.Machines != 4 {
		t.Fatalf("before any policy: %+v %v", g, refused)
	}
	h.cfg.Policies = []policy.Policy{pol("P", 5, -1, "", nil)}
	if g, refused := h.ask("", "", 5); refused != nil || g.Machines != 5 {
		t.Fatalf("a new policy counts from what it grants: %+v %v", g, refused)
	}
	h.cfg.Policies[0].MaxNumber = 2
	if g, refused := h.ask("", "", 1); refused == nil || refused.Details["policy"] != "P" || refused.Details["use"] != 5 {
		t.Fatalf("a limit lowered below its use granted %+v (%v)", g, refused)
	}
}

// TestGrantTricksReachNoOtherTemplate: an operator granted template T
// tries to reach a machine of template Spot, or template Spot itself, by
// spelling: a name without an id, its own host's name with the other's id
// and the reverse, ids and names in another case, an id the store does not
// know, a request for "t" or " T". Each is refused or terminates nothing,
// and the Spot machine is never terminated.
func TestGrantTricksReachNoOtherTemplate(t *testing.T) {
	h := newHarness(t)
	theirs, mine := h.runningHost("Spot"), h.runningHost("T")
	WithPrincipal(access.Principal{Name: "alice", Role: access.Operator, Templates: []string{"T"}, Source: "token"})(h.b)
	for _, c := range []struct {
		name   string
		refs   []store.MachineRef
		denied bool
	}{
		{"their name alone", []store.MachineRef{{Name: theirs.Name}}, true},
		{"own name, their id", []store.MachineRef{{Name: mine.Name, InstanceID: theirs.InstanceID}}, true},
		{"their name, own id", []store.MachineRef{{Name: theirs.Name, InstanceID: mine.InstanceID}}, false},
		{"their name, unknown id", []store.MachineRef{{Name: theirs.Name, InstanceID: "i-0123456789abcdef0"}}, false},
		{"their name in capitals", []store.MachineRef{{Name: strings.ToUpper(theirs.Name)}}, false},
		{"their id in capitals", []store.MachineRef{{InstanceID: strings.ToUpper(theirs.InstanceID)}}, false},
		{"own and theirs together", []store.MachineRef{{Name: mine.Name, InstanceID: mine.InstanceID}, {Name: theirs.Name, InstanceID: theirs.InstanceID}}, true},
	} {
		_, _, err := h.b.ReturnMachines(h.ctx(), c.refs)
		if denied := fault.CodeOf(err) == fault.PermissionDenied; denied != c.denied {
			t.Errorf("%s: %v, want denied %v", c.name, err, c.denied)
		}
		if got := h.cloud.Terminated(); slices.Contains(got, theirs.InstanceID) || slices.Contains(got, mine.InstanceID) {
			t.Fatalf("%s: terminated %v", c.name, got)
		}
	}
	for _, id := range []string{"t", " T", "T ", "Spot*", "*"} {
		_, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: id, Count: 1})
		if code := fault.CodeOf(err); code != fault.TemplateNotFound && code != fault.PermissionDenied {
			t.Errorf("request of template %q: %v", id, err)
		}
	}
	if n := len(h.machines(theirs.RequestID)) + len(h.machines(mine.RequestID)); n != 2 {
		t.Errorf("%d machines after the tricks, want the 2 from before", n)
	}
}

// TestMaxVCPUsOfTemplatesWithoutKnownTypes: a machine whose vCPUs cannot
// be known is never counted as none: a template that names no instance
// type (its launch template's is not read) or a type the cloud does not
// describe is refused under a MaxVCPUs policy with a CONFIGURATION_ERROR
// that says which, and nothing is launched.
func TestMaxVCPUsOfTemplatesWithoutKnownTypes(t *testing.T) {
	h := newHarness(t, withPolicies(pol("cpu", -1, 8, "", nil)), func(c *config.Config) {
		c.Templates = append(c.Templates,
			config.Template{ID: "LT", MaxNumber: 5, LaunchTemplateID: "lt-0123456789abcdef0"},
			config.Template{ID: "Odd", MaxNumber: 5, ImageID: "ami-12345678", VMType: "x9.weird"})
	})
	for id, says := range map[string]string{
		"LT":  "template 'LT' names no instance type (a launch template's is not read), so its machines cannot be counted against MaxVCPUs",
		"Odd": "template 'Odd': the vCPUs of x9.weird are unknown",
	} {
		_, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: id, Count: 1})
		if fault.CodeOf(err) != fault.Configuration || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want a CONFIGURATION_ERROR saying %q", id, err, says)
		}
	}
	if n := len(h.cloud.Calls(fake.Launch)); n != 0 {
		t.Errorf("%d launches", n)
	}
}

// TestMachineCount is the bounds of machineCount: positive, and at most
// the template's maxNumber (none for -1); outside them, INVALID_REQUEST
// with nothing stored or launched.
func TestMachineCount(t *testing.T) {
	for _, c := range []struct {
		template string
		count    int
		valid    bool
	}{
		{"T", -1, false},
		{"T", 0, false},
		{"T", 1, true},
		{"T", 10, true}, // maxNumber
		{"T", 11, false},
		{"Spot", 1000, true}, // maxNumber -1: no bound
	} {
		t.Run(fmt.Sprintf("%s %d", c.template, c.count), func(t *testing.T) {
			h := newHarness(t)
			g, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: c.template, Count: c.count})
			if c.valid {
				if err != nil || g.Machines != c.count {
					t.Fatalf("granted %+v, %v; want %d", g, err, c.count)
				}
				return
			}
			if fault.CodeOf(err) != fault.InvalidRequest {
				t.Errorf("error %v, want INVALID_REQUEST", err)
			}
			if rs, _ := h.st.ListRequests(h.ctx(), store.RequestQuery{}); len(rs) != 0 || len(h.cloud.Calls(fake.Launch)) != 0 {
				t.Errorf("stored %d requests, launched %d times", len(rs), len(h.cloud.Calls(fake.Launch)))
			}
		})
	}
}

// A request the cloud refuses fails and gives back what it held: nothing
// outstanding, and its slots free for the next request.
func TestRefusedLaunchFreesItsSlots(t *testing.T) {
	h := newHarness(t)
	h.cloud.Fail(fake.Launch, errors.New("InsufficientInstanceCapacity"))
	if _, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "T", Count: 10}); err == nil {
		t.Fatal("a refused launch was answered as placed")
	}
	rs, err := h.st.ListRequests(h.ctx(), store.RequestQuery{})
	if err != nil || len(rs) != 1 || rs[0].State != store.StateFailed || rs[0].Outstanding != 0 {
		t.Fatalf("stored %+v, %v; want one failed request owing nothing", rs, err)
	}
	h.cloud.Fail(fake.Launch, nil)
	if g, refused := h.ask("", "", 10); refused != nil || g.Machines != 10 {
		t.Errorf("after the failure, maxNumber was not free: %+v, %v", g, refused)
	}
}

// A MaxVCPUs policy counts vCPUs of the template's types: when they are
// unknown its machines cannot be counted, and the request is refused as a
// configuration error rather than let through uncounted.
func TestMaxVCPUsWithUnknownTypes(t *testing.T) {
	h := newHarness(t, withPolicies(pol("cpu", -1, 8, "", nil)))
	_, err := h.b.RequestMachines(h.ctx(), MachineRequest{TemplateID: "Spot", Count: 100})
	if fault.CodeOf(err) != fault.Configuration || len(h.cloud.Calls(fake.Launch)) != 0 {
		t.Errorf("error %v, %d launches; want CONFIGURATION_ERROR and none", err, len(h.cloud.Calls(fake.Launch)))
	}
}

// A request that names no user is the principal's: a policy on that user
// applies to it.
func TestPolicyOfThePrincipal(t *testing.T) {
	h := newHarness(t, withPolicies(pol("alice", 1, -1, "", map[policy.Dimension][]string{policy.DimUser: {"alice"}})))
	WithPrincipal(access.Principal{Name: "alice", Role: access.Admin, Source: "token"})(h.b)
	if g, refused := h.ask("", "", 3); refused != nil || g.Machines != 1 {
		t.Errorf("granted %+v (%v), want 1 under alice's policy", g, refused)
	}
}

// A request without rc_account is the default account's: a policy on that
// account applies to it, and checks and refusals name it.
func TestPolicyOfTheDefaultAccount(t *testing.T) {
	h := newHarness(t, withPolicies(pol("default", 1, -1, "", map[policy.Dimension][]string{policy.DimAccount: {policy.DefaultAccount}})))
	if a, err := h.b.Check(h.ctx(), MachineRequest{TemplateID: "T", Count: 3}); err != nil || a.Caller.Account != policy.DefaultAccount {
		t.Errorf("check of a request without rc_account: %+v, %v", a.Caller, err)
	}
	if g, refused := h.ask("", "", 3); refused != nil || g.Machines != 1 {
		t.Errorf("granted %+v (%v), want 1 under the default account's policy", g, refused)
	}
	if g, refused := h.ask("proj", "", 3); refused != nil || g.Machines != 3 {
		t.Errorf("account proj granted %+v (%v), want 3", g, refused)
	}
}
