// Package storetest is the conformance suite every store.Store passes. It is
// black-box: it sees only the store.Store interface.
//
// Where store.Store's doc leaves a choice, every store makes this one:
//   - CreateRequest sets CreatedAt and UpdatedAt from the store's clock and
//     Version to a positive number; UpdateRequest raises Version and sets
//     UpdatedAt, and keeps the stored CreatedAt whatever r says. Machine
//     times are stored as given.
//   - Times read back in UTC, equal to what was written at least to the
//     second.
//   - Empty and nil read back alike, as nil: Template, UserData, Machines
//     (the MachineRef list) and fact values.
//   - GetRequests returns each stored id once, at its first place in ids.
//   - CreateRequest of a stored id gives ErrExists even when the template
//     is full, so a retried request is recognized.
//   - Machines orders by RequestID, then LaunchTime. MachineQuery{AliveOnly:
//     true} alone selects every alive machine; MachineQuery{} selects none.
//   - Held reads a key that holds nothing as 0.
//   - Events read back with every field, times as above; Events lists
//     newest first, Since inclusive.
//   - Machines are saved only for stored requests: a machine is always
//     launched by a request stored before the cloud call.
package storetest

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// Run runs the conformance suite; open returns a fresh, empty store each
// time it is called with a new name, and the same backing store when called
// again with the same name (to simulate another host/process). open closes
// the store when t ends (t.Cleanup); names are [A-Za-z0-9_.-]+.
func Run(t *testing.T, open func(t *testing.T, name string) store.Store) {
	s := suite{open: open}
	for _, tc := range append([]testCase{
		{"CreateGet", s.createGet},
		{"CreateExists", s.createExists},
		{"GetRequestsOrder", s.getRequestsOrder},
		{"ListRequests", s.listRequests},
		{"ListRequestsPages", s.listRequestsPages},
		{"Update", s.update},
		{"UpdateConflict", s.updateConflict},
		{"UpdateNotFound", s.updateNotFound},
		{"EmptyIsNil", s.emptyIsNil},
		{"MachinesRoundTrip", s.machinesRoundTrip},
		{"MarkListed", s.markListed},
		{"MachinesUpsert", s.machinesUpsert},
		{"MachinesQuery", s.machinesQuery},
		{"AliveRule", s.aliveRule},
		{"Usage", s.usage},
		{"Capacity", s.capacity},
		{"Weighted", s.weighted},
		{"LargeSets", s.largeSets},
		{"Facts", s.facts},
		{"Purge", s.purge},
		{"Events", s.events},
		{"EventsSameTime", s.eventsSameTime},
		{"EventsMany", s.eventsMany},
		{"EventsPurge", s.eventsPurge},
		{"Identity", s.identity},
	}, s.concurrency()...) {
		t.Run(tc.name, tc.run)
	}
}

// RunConcurrency runs only the cases where several handles race on one
// store (open as for Run): the ones a second implementation of a store's
// backend must pass too.
func RunConcurrency(t *testing.T, open func(t *testing.T, name string) store.Store) {
	for _, tc := range (suite{open: open}).concurrency() {
		t.Run(tc.name, tc.run)
	}
}

type testCase struct {
	name string
	run  func(*testing.T)
}

func (s suite) concurrency() []testCase {
	return []testCase{
		{"CapacityRace", s.capacityRace},
		{"WindowRace", s.windowRace},
		{"UpdateRace", s.updateRace},
		{"NoLostUpdate", s.noLostUpdate},
	}
}

type suite struct {
	open func(t *testing.T, name string) store.Store
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// fresh opens a new, empty store named after the running test, and returns
// its name for opening more handles on it.
func (s suite) fresh(t *testing.T) (store.Store, string) {
	t.Helper()
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	return s.open(t, name), name
}

func ctx(t *testing.T) context.Context { return t.Context() }

// base is a fixed time with sub-second digits that a store may drop.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// createReq is a running create request of template holding outstanding.
func createReq(id, template string, outstanding int) *store.Request {
	return &store.Request{
		ID: id, Kind: store.KindCreate, TemplateID: template,
		MachineCount: outstanding, Outstanding: outstanding, State: store.StateRunning,
	}
}

// returnReq is a running return request of machines.
func returnReq(id string, machines ...store.Machine) *store.Request {
	r := &store.Request{ID: id, Kind: store.KindReturn, State: store.StateRunning}
	for _, m := range machines {
		r.Machines = append(r.Machines, store.MachineRef{Name: m.Name, InstanceID: m.InstanceID})
	}
	return r
}

// machine is a running, succeeded machine of request r launched n seconds
// after base.
func machine(id string, r *store.Request, n int) store.Machine {
	return store.Machine{
		InstanceID: id, RequestID: r.ID, TemplateID: r.TemplateID,
		Name: "ip-" + id + ".ec2.internal", State: cloud.Running, Result: store.ResultSucceed,
		LaunchTime: base.Add(time.Duration(n) * time.Second),
	}
}

func mustCreate(t *testing.T, st store.Store, r *store.Request) {
	t.Helper()
	if err := st.CreateRequest(ctx(t), r, limits(r, -1)); err != nil {
		t.Fatalf("CreateRequest(%s): %v", r.ID, err)
	}
}

func mustUpdate(t *testing.T, st store.Store, r *store.Request, machines ...store.Machine) {
	t.Helper()
	if err := st.UpdateRequest(ctx(t), r, machines...); err != nil {
		t.Fatalf("UpdateRequest(%s): %v", r.ID, err)
	}
}

func mustSave(t *testing.T, st store.Store, machines ...store.Machine) {
	t.Helper()
	if err := st.SaveMachines(ctx(t), machines); err != nil {
		t.Fatalf("SaveMachines: %v", err)
	}
}

// get reads one request that must be stored.
func get(t *testing.T, st store.Store, id string) store.Request {
	t.Helper()
	got, err := st.GetRequests(ctx(t), []string{id})
	if err != nil {
		t.Fatalf("GetRequests(%s): %v", id, err)
	}
	if len(got) != 1 {
		t.Fatalf("GetRequests(%s) = %d requests, want 1", id, len(got))
	}
	return got[0]
}

// absent fails unless none of ids is stored.
func absent(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	got, err := st.GetRequests(ctx(t), ids)
	if err != nil {
		t.Fatalf("GetRequests: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("GetRequests(%v) = %v, want none", ids, requestIDs(got))
	}
}

func machines(t *testing.T, st store.Store, q store.MachineQuery) []store.Machine {
	t.Helper()
	got, err := st.Machines(ctx(t), q)
	if err != nil {
		t.Fatalf("Machines(%+v): %v", q, err)
	}
	return got
}

// limits are the limits a create request counts against: its template's
// maxNumber; return requests count against none.
func limits(r *store.Request, maxNumber int) []store.Limit {
	if r.Kind != store.KindCreate {
		return nil
	}
	return []store.Limit{store.TemplateLimit(r.TemplateID, maxNumber)}
}

// usage is what templates hold, read from their counters.
func usage(t *testing.T, st store.Store, templates ...string) map[string]int {
	t.Helper()
	keys := make([]string, len(templates))
	for i, tmpl := range templates {
		keys[i] = store.TemplateKey(tmpl)
	}
	held, err := st.Held(ctx(t), keys)
	if err != nil {
		t.Fatalf("Held: %v", err)
	}
	got := map[string]int{}
	for _, tmpl := range templates {
		if n := held[store.TemplateKey(tmpl)]; n != 0 {
			got[tmpl] = n
		}
	}
	return got
}

func requestIDs(rs []store.Request) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func instanceIDs(ms []store.Machine) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.InstanceID
	}
	return ids
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameTime reports whether got is want as a store keeps it: UTC, the same
// second.
func sameTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Location() == time.UTC && got.Unix() == want.Unix()
}

// checkKept fails unless got is want as a store keeps it: the times that
// times points into the same to the second and in UTC, all else equal.
func checkKept[T any](t *testing.T, what string, got, want T, times func(*T) []*time.Time) {
	t.Helper()
	gotTimes, wantTimes := times(&got), times(&want)
	for i := range wantTimes {
		if !sameTime(*gotTimes[i], *wantTimes[i]) {
			t.Errorf("%s time %d = %v, want %v", what, i, *gotTimes[i], *wantTimes[i])
		}
		*gotTimes[i], *wantTimes[i] = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// ids is prefix0, prefix1, ... prefix<n-1>.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}
