// Package transfertest fills a store with requests of every kind and state
// and reads everything back, so tests of copies (in-process and through
// `ohfp store migrate`) compare whole contents.
package transfertest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// Events is how many events Fill appends: more than one batch.
const Events = 30

// The one fact Fill caches.
const (
	FactKey   = "type/m5.large"
	FactValue = `{"vcpus":2}`
)

// Fill stores n requests of every kind and state through the Store
// interface, with machines (two per placed create request; every tenth
// request returns one of them), appends Events events (of the last hours:
// stores list events within their retention) and caches Fact.
func Fill(t testing.TB, st store.Store, n int) {
	t.Helper()
	ctx := t.Context()
	states := []store.State{store.StatePending, store.StateRunning, store.StateComplete, store.StateCompleteWithError, store.StateFailed}
	launched := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	var returnable []store.Machine
	for i := range n {
		id := fmt.Sprintf("req-%04d", i)
		r := &store.Request{
			ID: id, Kind: store.KindCreate, TemplateID: fmt.Sprintf("tmpl-%d", i%7),
			Template: []byte(`{"templateId":"tmpl"}`), MachineCount: 2, Outstanding: 2,
			RCAccount: "acct-ü", UserData: []byte{0, 1, 0xff}, ClientToken: "tok-" + id,
			State: store.StatePending,
		}
		if i%10 == 9 && len(returnable) > 0 {
			m := returnable[len(returnable)-1]
			returnable = returnable[:len(returnable)-1]
			r = &store.Request{ID: id, Kind: store.KindReturn, State: store.StatePending,
				Machines: []store.MachineRef{{Name: m.Name, InstanceID: m.InstanceID}}}
			if err := st.CreateRequest(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
			m.ReturnID, m.State, m.UpdatedAt = id, cloud.Terminated, launched.Add(time.Hour)
			r.State = store.StateComplete
			if err := st.UpdateRequest(ctx, r, m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := st.CreateRequest(ctx, r, []store.Limit{store.TemplateLimit(r.TemplateID, -1)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			continue // stays pending, without machines
		}
		var ms []store.Machine
		for j := range 2 {
			iid := fmt.Sprintf("i-%04d%d", i, j)
			ms = append(ms, store.Machine{
				InstanceID: iid, RequestID: id, TemplateID: r.TemplateID, Name: "ip-" + iid + ".ec2.internal",
				PrivateIP: "10.0.0.1", State: cloud.Running, Result: store.ResultSucceed, Message: "ok",
				InstanceType: "m5.large", PriceType: "spot",
				LaunchTime: launched.Add(time.Duration(i) * time.Second), UpdatedAt: launched,
			})
		}
		returnable = append(returnable, ms...)
		r.State, r.Outstanding, r.CloudRef, r.Message = states[i%len(states)], 0, "r-"+id, "placed"
		if err := st.UpdateRequest(ctx, r, ms...); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutFact(ctx, FactKey, []byte(FactValue)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	events := make([]store.Event, Events)
	for i := range events {
		events[i] = store.Event{
			Time: now.Add(time.Duration(i-Events) * time.Minute), RequestID: fmt.Sprintf("req-%04d", i),
			InstanceID: fmt.Sprintf("i-%04d0", i), Action: "request.placed", Actor: "requestMachines by hf@host pid 1",
			Detail: "détail",
		}
	}
	if err := st.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
}

// Snapshot reads every request and every machine of a request a store
// holds, sorted by id.
func Snapshot(t testing.TB, st store.Store) ([]store.Request, []store.Machine) {
	t.Helper()
	rs, err := st.ListRequests(t.Context(), store.RequestQuery{})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rs, func(a, b store.Request) int { return strings.Compare(a.ID, b.ID) })
	var ms []store.Machine
	for chunk := range slices.Chunk(rs, 100) {
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = r.ID
		}
		got, err := st.Machines(t.Context(), store.MachineQuery{RequestIDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, got...)
	}
	slices.SortFunc(ms, func(a, b store.Machine) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	return rs, ms
}

// Same fails t unless the two stores hold the same requests, machines
// and Fact, every field compared, and the same identity.
func Same(t testing.TB, got, want store.Store) {
	t.Helper()
	gotRequests, gotMachines := Snapshot(t, got)
	wantRequests, wantMachines := Snapshot(t, want)
	same(t, "request", gotRequests, wantRequests)
	same(t, "machine", gotMachines, wantMachines)
	same(t, "event", events(t, got), events(t, want))
	if v, ok, err := got.Fact(t.Context(), FactKey); err != nil || !ok || string(v) != FactValue {
		t.Errorf("copied fact = %q, %v, %v", v, ok, err)
	}
	// The copy is the same store: it keeps the source's identity.
	gotID, _, err := got.Fact(t.Context(), store.IdentityFact)
	wantID, _, err2 := want.Fact(t.Context(), store.IdentityFact)
	if err != nil || err2 != nil || string(gotID) != string(wantID) {
		t.Errorf("copied identity = %q, want %q (%v, %v)", gotID, wantID, err, err2)
	}
}

func same[T any](t testing.TB, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d copied, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

func events(t testing.TB, st store.Store) []store.Event {
	t.Helper()
	es, err := st.Events(t.Context(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
