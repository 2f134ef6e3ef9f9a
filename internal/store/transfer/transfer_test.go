package transfer_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo/dynamotest"
	"github.com/ohfp/ohfp/internal/store/sqlite"
	"github.com/ohfp/ohfp/internal/store/transfer"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// fill stores n requests of every kind and state through the Store
// interface, with machines, and returns them as stored.
func fill(t *testing.T, st store.Store, n int) {
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
			if err := st.CreateRequest(ctx, r, -1); err != nil {
				t.Fatal(err)
			}
			m.ReturnID, m.State, m.UpdatedAt = id, "terminated", launched.Add(time.Hour)
			r.State = store.StateComplete
			if err := st.UpdateRequest(ctx, r, m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := st.CreateRequest(ctx, r, -1); err != nil {
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
				PrivateIP: "10.0.0.1", State: "running", Result: store.ResultSucceed, Message: "ok",
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
}

// snapshot reads everything a store holds about requests and machines.
func snapshot(t *testing.T, st store.Store) ([]store.Request, []store.Machine) {
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

func same[T any](t *testing.T, what string, got, want []T) {
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

// TestCopy moves 1,000 requests from SQLite to DynamoDB and on to other
// DynamoDB tables, and finds them identical at each step.
func TestCopy(t *testing.T) {
	ctx := t.Context()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ohfp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	fill(t, src, 1000)
	if err := src.PutFact(ctx, "type/m5.large", []byte(`{"vcpus":2}`)); err != nil {
		t.Fatal(err)
	}
	wantRequests, wantMachines := snapshot(t, src)

	first := dynamotest.Open(t, "first")
	counts, err := transfer.Copy(ctx, src, first)
	if err != nil {
		t.Fatalf("copy SQLite -> DynamoDB: %v", err)
	}
	if _, lists := any(src).(transfer.FactLister); !lists {
		// The SQLite store cannot list its facts (yet): they are skipped.
		if counts.Facts != -1 {
			t.Errorf("facts of a store that cannot list them counted %d, want -1", counts.Facts)
		}
		counts.Facts = 1
		if err := first.PutFact(ctx, "type/m5.large", []byte(`{"vcpus":2}`)); err != nil {
			t.Fatal(err)
		}
	}
	if want := (transfer.Counts{Requests: 1000, Machines: len(wantMachines), Facts: 1}); counts != want {
		t.Errorf("SQLite -> DynamoDB counts = %+v, want %+v", counts, want)
	}
	gotRequests, gotMachines := snapshot(t, first)
	same(t, "request", gotRequests, wantRequests)
	same(t, "machine", gotMachines, wantMachines)

	second := dynamotest.Open(t, "second")
	counts, err = transfer.Copy(ctx, first, second)
	if err != nil {
		t.Fatalf("copy DynamoDB -> DynamoDB: %v", err)
	}
	if want := (transfer.Counts{Requests: 1000, Machines: len(wantMachines), Facts: 1}); counts != want {
		t.Errorf("DynamoDB -> DynamoDB counts = %+v, want %+v", counts, want)
	}
	gotRequests, gotMachines = snapshot(t, second)
	same(t, "request", gotRequests, wantRequests)
	same(t, "machine", gotMachines, wantMachines)
	if v, ok, err := second.Fact(ctx, "type/m5.large"); err != nil || !ok || string(v) != `{"vcpus":2}` {
		t.Errorf("copied fact = %q, %v, %v", v, ok, err)
	}
}
