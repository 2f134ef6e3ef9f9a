package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// largeSets crosses every batch size a backend might use for ids.
func (s suite) largeSets(t *testing.T) {
	const n = 1234
	st, _ := s.fresh(t)
	r := createReq("big", "tmpl-1", n)
	mustCreate(t, st, r)
	ret := returnReq("big-return")
	mustCreate(t, st, ret)
	ms := make([]store.Machine, n)
	var names []string
	for i, id := range ids("i-", n) {
		ms[i] = machine(id, r, i)
		names = append(names, ms[i].Name)
	}
	mustSave(t, st, ms...)
	want := instanceIDs(ms) // launch order

	checkMachines(t, st, store.MachineQuery{RequestIDs: []string{"big"}}, want...)
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	checkMachines(t, st, store.MachineQuery{InstanceIDs: append(reversed, "i-nope")}, want...)
	checkMachines(t, st, store.MachineQuery{Names: names, AliveOnly: true}, want...)

	for i := range ms {
		ms[i].ReturnID, ms[i].State = "big-return", cloud.ShuttingDown
	}
	mustUpdate(t, st, ret, ms...)
	checkMachines(t, st, store.MachineQuery{ReturnIDs: []string{"big-return"}}, want...)
	checkMachines(t, st, store.MachineQuery{RequestIDs: []string{"big"}, AliveOnly: true})

	reqIDs := ids("req-", 250)
	for _, id := range reqIDs {
		mustCreate(t, st, createReq(id, "tmpl-2", 1))
	}
	slices.Reverse(reqIDs)
	got, err := st.GetRequests(ctx(t), append(reqIDs, "nope"))
	if err != nil {
		t.Fatalf("GetRequests: %v", err)
	}
	if !sameStrings(requestIDs(got), reqIDs) {
		t.Errorf("GetRequests of %d ids returned %d, or out of order", len(reqIDs), len(got))
	}
}

func (s suite) facts(t *testing.T) {
	st, name := s.fresh(t)
	check := func(st store.Store, key string, want []byte, wantOK bool) {
		t.Helper()
		got, ok, err := st.Fact(ctx(t), key)
		if err != nil || ok != wantOK || !bytes.Equal(got, want) || (want == nil && got != nil) {
			t.Errorf("Fact(%s) = %q, %v, %v; want %q, %v", key, got, ok, err, want, wantOK)
		}
	}
	put := func(key string, value []byte) {
		t.Helper()
		if err := st.PutFact(ctx(t), key, value); err != nil {
			t.Fatalf("PutFact(%s): %v", key, err)
		}
	}
	check(st, "instance-type/m5.large", nil, false)
	put("instance-type/m5.large", []byte(`{"vcpus":2}`))
	check(st, "instance-type/m5.large", []byte(`{"vcpus":2}`), true)
	put("instance-type/m5.large", []byte(`{"vcpus":2,"memory":8192}`))
	check(st, "instance-type/m5.large", []byte(`{"vcpus":2,"memory":8192}`), true)
	put("binary", []byte{0, 1, 0xfe, 0xff})
	put("empty", []byte{})
	other := s.open(t, name)
	check(other, "binary", []byte{0, 1, 0xfe, 0xff}, true)
	check(other, "empty", nil, true)
	check(other, "instance-type/m5.large", []byte(`{"vcpus":2,"memory":8192}`), true)
}

func (s suite) purge(t *testing.T) {
	st, _ := s.fresh(t)
	finish := func(r *store.Request, ms ...store.Machine) {
		t.Helper()
		r.State = store.StateComplete
		mustUpdate(t, st, r, ms...)
	}
	dead := func(m store.Machine) store.Machine {
		m.State = cloud.Terminated
		return m
	}
	create := func(id string) *store.Request {
		r := createReq(id, "tmpl-1", 0)
		mustCreate(t, st, r)
		return r
	}
	returned := func(r *store.Request, ms ...*store.Machine) {
		t.Helper()
		mustCreate(t, st, r)
		for _, m := range ms {
			m.ReturnID = r.ID
		}
	}

	// a: finished, machines dead: purged with its machines.
	a := create("a")
	finish(a, dead(machine("a-1", a, 0)), dead(machine("a-2", a, 1)))
	// b: finished, one machine alive: kept.
	b := create("b")
	finish(b, dead(machine("b-1", b, 0)), machine("b-2", b, 1))
	// c: not finished: kept.
	c := create("c")
	mustSave(t, st, dead(machine("c-1", c, 0)))
	// d: finished, its dead machine returned by a running return: both kept.
	d := create("d")
	d1 := dead(machine("d-1", d, 0))
	returned(returnReq("rd", d1), &d1)
	finish(d, d1)
	// e: finished, its dead machine returned by a finished return: both purged.
	e := create("e")
	e1 := dead(machine("e-1", e, 0))
	re := returnReq("re", e1)
	returned(re, &e1)
	finish(e, e1)
	finish(re)
	// f: a finished return of nothing: purged.
	f := returnReq("f")
	mustCreate(t, st, f)
	finish(f)
	// g, rg, h: g's dead machine went back with rg, which also returned a
	// dead machine of h; h still has an alive machine, so h keeps rg, and
	// rg keeps g.
	g, h := create("g"), create("h")
	g1, h1, h2 := dead(machine("g-1", g, 0)), dead(machine("h-1", h, 0)), machine("h-2", h, 1)
	rg := returnReq("rg", g1, h1)
	returned(rg, &g1, &h1)
	finish(rg)
	finish(g, g1)
	finish(h, h1, h2)

	all := []string{"a", "b", "c", "d", "rd", "e", "re", "f", "g", "rg", "h"}
	purge := func(olderThan time.Time, want int) {
		t.Helper()
		n, err := st.Purge(ctx(t), olderThan)
		if err != nil || n != want {
			t.Fatalf("Purge(%v) = %d, %v; want %d", olderThan, n, err, want)
		}
	}
	purge(time.Now().Add(-time.Hour), 0) // all were updated just now
	got, err := st.GetRequests(ctx(t), all)
	if err != nil || len(got) != len(all) {
		t.Fatalf("after purging nothing GetRequests = %v, %v; want all %v", requestIDs(got), err, all)
	}

	purge(time.Now().Add(time.Hour), 4)
	absent(t, st, "a", "e", "re", "f")
	kept := []string{"b", "c", "d", "rd", "g", "rg", "h"}
	if got, err := st.GetRequests(ctx(t), kept); err != nil || !sameStrings(requestIDs(got), kept) {
		t.Errorf("after Purge GetRequests = %v, %v; want %v kept", requestIDs(got), err, kept)
	}
	checkMachines(t, st, store.MachineQuery{InstanceIDs: []string{"a-1", "a-2", "e-1"}})
	checkMachines(t, st, store.MachineQuery{RequestIDs: []string{"b", "c", "d", "g", "h"}},
		"b-1", "b-2", "c-1", "d-1", "g-1", "h-1", "h-2")
	purge(time.Now().Add(time.Hour), 0)
}
