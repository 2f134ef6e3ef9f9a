package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// checkMachine fails unless got is want as a store keeps it.
func checkMachine(t *testing.T, got, want store.Machine) {
	t.Helper()
	checkKept(t, "machine "+want.InstanceID, got, want, func(m *store.Machine) []*time.Time {
		return []*time.Time{&m.LaunchTime, &m.UpdatedAt, &m.ListedAt}
	})
}

// checkMachines fails unless q selects exactly want, in that order.
func checkMachines(t *testing.T, st store.Store, q store.MachineQuery, want ...string) {
	t.Helper()
	if got := instanceIDs(machines(t, st, q)); !sameStrings(got, want) {
		t.Errorf("Machines(%+v) = %v, want %v", q, got, want)
	}
}

func (s suite) machinesRoundTrip(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 2)
	mustCreate(t, st, r)
	full := store.Machine{
		InstanceID: "i-0123456789abcdef0", RequestID: "req-1", TemplateID: "tmpl-1",
		Name: "ip-10-0-0-1.ec2.internal", PrivateIP: "10.0.0.1", PublicIP: "3.3.3.3",
		State: cloud.Running, Result: store.ResultSucceed, Message: "ok\tfine",
		InstanceType: "m5.large", PriceType: "spot", Cores: 2, Threads: 4,
		PublicDNS: "ec2-3-3-3-3.compute-1.amazonaws.com", ListedAt: base.Add(time.Minute),
		LaunchTime: base, UpdatedAt: base.Add(time.Hour),
	}
	ret := returnReq("ret-1", full)
	mustCreate(t, st, ret)
	full.ReturnID = "ret-1"
	bare := store.Machine{InstanceID: "i-bare", RequestID: "req-1"}
	mustSave(t, st, full, bare)

	got := machines(t, st, store.MachineQuery{InstanceIDs: []string{full.InstanceID, bare.InstanceID}})
	if len(got) != 2 {
		t.Fatalf("Machines = %v, want 2", instanceIDs(got))
	}
	for _, m := range got {
		want := bare
		if m.InstanceID == full.InstanceID {
			want = full
		}
		checkMachine(t, m, want)
	}
}

func (s suite) machinesUpsert(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 1)
	mustCreate(t, st, r)
	ret := returnReq("ret-1")
	mustCreate(t, st, ret)
	m := machine("i-1", r, 0)
	m.State, m.Result = cloud.Pending, store.ResultExecuting
	mustSave(t, st, m)

	m.State, m.Result, m.Message = cloud.ShuttingDown, store.ResultSucceed, "returned"
	m.PublicIP, m.ReturnID, m.UpdatedAt = "1.2.3.4", "ret-1", base.Add(time.Minute)
	mustSave(t, st, m)
	got := machines(t, st, store.MachineQuery{RequestIDs: []string{"req-1"}})
	if len(got) != 1 {
		t.Fatalf("after two saves of one machine Machines = %v, want one", instanceIDs(got))
	}
	checkMachine(t, got[0], m)

	// Saving writes every field: a cleared one reads back cleared.
	m.ReturnID, m.Message = "", ""
	mustUpdate(t, st, r, m)
	checkMachine(t, machines(t, st, store.MachineQuery{InstanceIDs: []string{"i-1"}})[0], m)
	checkMachines(t, st, store.MachineQuery{ReturnIDs: []string{"ret-1"}})

	if err := st.SaveMachines(ctx(t), nil); err != nil {
		t.Errorf("SaveMachines(nil) = %v", err)
	}
}

func (s suite) machinesQuery(t *testing.T) {
	st, _ := s.fresh(t)
	c1, c2 := createReq("c1", "tmpl-a", 3), createReq("c2", "tmpl-b", 2)
	mustCreate(t, st, c1)
	mustCreate(t, st, c2)
	m1, m2, m5 := machine("m1", c1, 2), machine("m2", c1, 1), machine("m5", c1, 3)
	m5.State = cloud.Terminated
	m3, m4 := machine("m3", c2, 0), machine("m4", c2, 5)
	r1 := returnReq("r1", m2, m3)
	mustCreate(t, st, r1)
	m2.ReturnID, m3.ReturnID = "r1", "r1"
	mustSave(t, st, m1, m2, m3, m4, m5)

	for _, tc := range []struct {
		q    store.MachineQuery
		want []string
	}{
		{store.MachineQuery{}, nil},
		{store.MachineQuery{RequestIDs: []string{}, Names: []string{}}, nil},
		{store.MachineQuery{RequestIDs: []string{"c1"}}, []string{"m2", "m1", "m5"}},
		{store.MachineQuery{RequestIDs: []string{"c2", "c1"}}, []string{"m2", "m1", "m5", "m3", "m4"}},
		{store.MachineQuery{RequestIDs: []string{"nope"}}, nil},
		{store.MachineQuery{ReturnIDs: []string{"r1"}}, []string{"m2", "m3"}},
		{store.MachineQuery{InstanceIDs: []string{"m4", "m1", "nope"}}, []string{"m1", "m4"}},
		{store.MachineQuery{Names: []string{m3.Name, m5.Name, "nope"}}, []string{"m5", "m3"}},
		{store.MachineQuery{TemplateID: "tmpl-b"}, []string{"m3", "m4"}},
		{store.MachineQuery{AliveOnly: true}, []string{"m2", "m1", "m3", "m4"}},
		{store.MachineQuery{RequestIDs: []string{"c1"}, AliveOnly: true}, []string{"m2", "m1"}},
		{store.MachineQuery{RequestIDs: []string{"c1"}, ReturnIDs: []string{"r1"}}, []string{"m2"}},
		{store.MachineQuery{TemplateID: "tmpl-a", InstanceIDs: []string{"m3"}}, nil},
		{store.MachineQuery{TemplateID: "tmpl-a", Names: []string{m5.Name}, AliveOnly: true}, nil},
		{store.MachineQuery{TemplateID: "tmpl-a", Names: []string{m1.Name, m3.Name}}, []string{"m1"}},
	} {
		checkMachines(t, st, tc.q, tc.want...)
	}
}

// machineStates are the cloud states and results the alive rule tells apart.
var (
	machineStates  = append([]cloud.State{cloud.Unknown}, cloud.States...)
	machineResults = []store.Result{"", store.ResultExecuting, store.ResultSucceed, store.ResultFail}
)

func (s suite) aliveRule(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 0)
	mustCreate(t, st, r)
	var all []store.Machine
	var alive []string
	for _, state := range machineStates {
		for _, result := range machineResults {
			m := machine("i-"+string(state)+"-"+string(result), r, len(all))
			m.State, m.Result = state, result
			all = append(all, m)
			if m.Alive() {
				alive = append(alive, m.InstanceID)
			}
		}
	}
	mustSave(t, st, all...)
	checkMachines(t, st, store.MachineQuery{RequestIDs: []string{"req-1"}, AliveOnly: true}, alive...)
	checkMachines(t, st, store.MachineQuery{AliveOnly: true}, alive...)
	if got := usage(t, st, "tmpl-1")["tmpl-1"]; got != len(alive) {
		t.Errorf("Usage[tmpl-1] = %d, want the %d alive machines", got, len(alive))
	}
}

func (s suite) usage(t *testing.T) {
	st, _ := s.fresh(t)
	want := map[string]int{}
	// Every state once, with its own bit of Outstanding.
	states := append(slices.Clone(store.UnfinishedStates),
		store.StateComplete, store.StateCompleteWithError, store.StateFailed)
	for i, state := range states {
		r := createReq("a-"+string(state), "tmpl-a", 1<<i)
		r.State = state
		mustCreate(t, st, r)
		if !state.Finished() {
			want["tmpl-a"] += r.Outstanding
		}
	}
	// A return request holds nothing even with Outstanding.
	ret := returnReq("ret-1")
	ret.TemplateID, ret.Outstanding = "tmpl-a", 100
	mustCreate(t, st, ret)

	// Alive machines hold slots whatever their request's state.
	b := createReq("b", "tmpl-b", 0)
	b.State = store.StateComplete
	mustCreate(t, st, b)
	dead := machine("b-dead", b, 2)
	dead.State = cloud.Terminated
	mustSave(t, st, machine("b-1", b, 0), machine("b-2", b, 1), dead)
	want["tmpl-b"] = 2

	c := createReq("c", "tmpl-c", 0)
	c.State = store.StateComplete
	mustCreate(t, st, c)
	gone := machine("c-1", c, 0)
	gone.Result = store.ResultFail
	mustSave(t, st, gone)

	got := usage(t, st, "tmpl-a", "tmpl-b", "tmpl-c")
	for template, n := range got {
		if n != want[template] {
			t.Errorf("Usage[%s] = %d, want %d", template, n, want[template])
		}
	}
	for template, n := range want {
		if got[template] != n {
			t.Errorf("Usage[%s] = %d, want %d", template, got[template], n)
		}
	}
}

func (s suite) capacity(t *testing.T) {
	st, _ := s.fresh(t)
	create := func(r *store.Request, limit int, want error) {
		t.Helper()
		err := st.CreateRequest(ctx(t), r, limits(r, limit))
		if !errors.Is(err, want) {
			t.Fatalf("CreateRequest(%s, Outstanding %d, limit %d) = %v, want %v", r.ID, r.Outstanding, limit, err, want)
		}
		if want != nil {
			absent(t, st, r.ID)
		}
	}
	r0 := createReq("r0", "tmpl-a", 0)
	create(r0, 3, nil)
	m1, m2, m3 := machine("m1", r0, 0), machine("m2", r0, 1), machine("m3", r0, 2)
	mustSave(t, st, m1, m2, m3)
	create(createReq("r1", "tmpl-a", 1), 3, store.ErrCapacity) // 3 alive + 1 > 3

	m1.State, m2.State = cloud.Terminated, cloud.ShuttingDown // dead machines free their slots
	mustSave(t, st, m1, m2)
	create(createReq("r2", "tmpl-a", 2), 3, nil) // 1 + 2 = 3: exactly full
	create(createReq("r3", "tmpl-a", 1), 3, store.ErrCapacity)

	r4 := createReq("r4", "tmpl-a", 50)
	create(r4, -1, nil) // no limit
	r4.State = store.StateComplete
	mustUpdate(t, st, r4) // finished: its Outstanding no longer holds
	create(createReq("r5", "tmpl-a", 1), 4, nil)
	create(createReq("r6", "tmpl-a", 1), 4, store.ErrCapacity)

	m3.Result = store.ResultFail // failed machines free their slots too
	mustSave(t, st, m3)
	create(createReq("r6", "tmpl-a", 1), 4, nil)

	create(createReq("b1", "tmpl-b", 4), 4, nil) // other templates do not count
	create(createReq("z0", "tmpl-z", 0), 0, nil)
	create(createReq("z1", "tmpl-z", 1), 0, store.ErrCapacity)
	ret := returnReq("ret-1")
	ret.TemplateID, ret.Outstanding = "tmpl-z", 1
	create(ret, 0, nil) // return requests are never refused for capacity

	want := map[string]int{"tmpl-a": 4, "tmpl-b": 4}
	if got := usage(t, st, "tmpl-a", "tmpl-b", "tmpl-z"); got["tmpl-a"] != want["tmpl-a"] || got["tmpl-b"] != want["tmpl-b"] || got["tmpl-z"] != 0 {
		t.Errorf("Usage = %v, want %v", got, want)
	}
}

// markListed: MarkListed sets ListedAt where it is unset, keeps the first
// time, touches no other field, and skips unknown ids.
func (s suite) markListed(t *testing.T) {
	st, _ := s.fresh(t)
	mustCreate(t, st, createReq("req-1", "tmpl-1", 2))
	a := store.Machine{InstanceID: "i-a", RequestID: "req-1", TemplateID: "tmpl-1", Name: "a", State: cloud.Running, Result: store.ResultSucceed, LaunchTime: base}
	b := a
	b.InstanceID, b.Name = "i-b", "b"
	mustSave(t, st, a, b)
	if err := st.MarkListed(t.Context(), []string{"i-a", "i-unknown"}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkListed(t.Context(), []string{"i-a"}, base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := machines(t, st, store.MachineQuery{InstanceIDs: []string{"i-a", "i-b"}})
	for _, m := range got {
		want := b
		if m.InstanceID == "i-a" {
			want = a
			want.ListedAt = base.Add(time.Hour)
		}
		checkMachine(t, m, want)
	}
	checkMachines(t, st, store.MachineQuery{InstanceIDs: []string{"i-unknown"}})
}
