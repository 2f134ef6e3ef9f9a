package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/store"
)

// checkRequest fails unless got is want as a store keeps it.
func checkRequest(t *testing.T, got, want store.Request) {
	t.Helper()
	checkKept(t, "request "+want.ID, got, want, func(r *store.Request) []*time.Time {
		return []*time.Time{&r.CreatedAt, &r.UpdatedAt}
	})
}

// fullRequest sets every field a caller sets.
func fullRequest(id string) *store.Request {
	return &store.Request{
		ID:           id,
		Kind:         store.KindCreate,
		TemplateID:   "tmpl-1",
		Template:     []byte(`{"templateId":"tmpl-1","maxNumber":10,"attributes":{"ncpus":["Numeric","2"]}}`),
		MachineCount: 3,
		Outstanding:  2,
		RCAccount:    "project-ä",
		Tags:         []config.Tag{{Key: "priority", Value: "high"}, {Key: "environment", Value: ""}},
		UserData:     []byte{'{', '}', 0x00, 0xff, '\n'},
		ClientToken:  "token-" + id,
		CloudRef:     "r-0123456789",
		Machines:     []store.MachineRef{{Name: "host-a", InstanceID: "i-a"}, {Name: "host-b"}},
		State:        store.StatePending,
		Message:      "on its way\nline two",
	}
}

func (s suite) createGet(t *testing.T) {
	st, _ := s.fresh(t)
	r := fullRequest("req-1")
	want := *r
	before := time.Now().Truncate(time.Second)
	if err := st.CreateRequest(ctx(t), r, limits(r, 10)); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	want.LimitKeys = []string{store.TemplateKey(r.TemplateID)}
	after := time.Now().Add(time.Second)
	if r.Version <= 0 {
		t.Errorf("Version = %d after create, want > 0", r.Version)
	}
	for what, at := range map[string]time.Time{"CreatedAt": r.CreatedAt, "UpdatedAt": r.UpdatedAt} {
		if at.Location() != time.UTC || at.Before(before) || at.After(after) {
			t.Errorf("%s = %v, want UTC between %v and %v", what, at, before, after)
		}
	}
	want.CreatedAt, want.UpdatedAt, want.Version = r.CreatedAt, r.UpdatedAt, r.Version
	checkRequest(t, *r, want)
	checkRequest(t, get(t, st, "req-1"), want)

	ret := returnReq("ret-1", machine("i-a", r, 0))
	ret.Message = "returning"
	want = *ret
	mustCreate(t, st, ret)
	want.CreatedAt, want.UpdatedAt, want.Version = ret.CreatedAt, ret.UpdatedAt, ret.Version
	checkRequest(t, get(t, st, "ret-1"), want)

	// A creation time given is kept: the broker's clock ages requests.
	given := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := returnReq("ret-2", machine("i-b", r, 1))
	old.CreatedAt = given.In(time.FixedZone("CET", 3600))
	mustCreate(t, st, old)
	if got := get(t, st, "ret-2").CreatedAt; !got.Equal(given) || got.Location() != time.UTC {
		t.Errorf("CreatedAt given %v, stored %v", given, got)
	}
}

func (s suite) createExists(t *testing.T) {
	st, _ := s.fresh(t)
	first := createReq("req-1", "tmpl-1", 1)
	first.Message = "first"
	mustCreate(t, st, first)
	again := createReq("req-1", "tmpl-2", 5)
	again.Message = "second"
	if err := st.CreateRequest(ctx(t), again, limits(again, -1)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateRequest = %v, want ErrExists", err)
	}
	// A retried request is recognized even when its template is full.
	if err := st.CreateRequest(ctx(t), createReq("req-1", "tmpl-1", 5), limits(first, 0)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateRequest of a stored id over capacity = %v, want ErrExists", err)
	}
	if err := st.CreateRequest(ctx(t), returnReq("req-1"), nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("return request with a create request's id = %v, want ErrExists", err)
	}
	checkRequest(t, get(t, st, "req-1"), *first)
}

func (s suite) getRequestsOrder(t *testing.T) {
	st, _ := s.fresh(t)
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, st, createReq(id, "tmpl-1", 1))
	}
	for _, tc := range []struct {
		ids, want []string
	}{
		{[]string{"c", "x", "a", "c"}, []string{"c", "a"}},
		{[]string{"b"}, []string{"b"}},
		{[]string{"x", "y"}, nil},
		{nil, nil},
	} {
		got, err := st.GetRequests(ctx(t), tc.ids)
		if err != nil {
			t.Fatalf("GetRequests(%v): %v", tc.ids, err)
		}
		if !sameStrings(requestIDs(got), tc.want) {
			t.Errorf("GetRequests(%v) = %v, want %v", tc.ids, requestIDs(got), tc.want)
		}
	}
}

func (s suite) listRequests(t *testing.T) {
	st, _ := s.fresh(t)
	all := []*store.Request{
		createReq("c1", "t1", 1),
		createReq("c2", "t2", 1),
		returnReq("r1"),
		createReq("c3", "t1", 1),
	}
	for _, r := range all {
		mustCreate(t, st, r)
	}
	all[1].State = store.StateComplete
	mustUpdate(t, st, all[1])
	all[3].State = store.StateFailed
	mustUpdate(t, st, all[3])
	created := map[string]time.Time{}
	for _, r := range all {
		created[r.ID] = r.CreatedAt
	}
	for _, tc := range []struct {
		q    store.RequestQuery
		want []string // in any order; the order is checked by CreatedAt
	}{
		{store.RequestQuery{}, []string{"c1", "c2", "r1", "c3"}},
		{store.RequestQuery{Kind: store.KindCreate}, []string{"c1", "c2", "c3"}},
		{store.RequestQuery{Kind: store.KindReturn}, []string{"r1"}},
		{store.RequestQuery{States: []store.State{store.StateRunning}}, []string{"c1", "r1"}},
		{store.RequestQuery{States: []store.State{store.StateComplete, store.StateFailed}}, []string{"c2", "c3"}},
		{store.RequestQuery{TemplateID: "t1"}, []string{"c1", "c3"}},
		{store.RequestQuery{Kind: store.KindCreate, States: []store.State{store.StateRunning}, TemplateID: "t1"}, []string{"c1"}},
		{store.RequestQuery{Kind: store.KindReturn, TemplateID: "t1"}, nil},
		{store.RequestQuery{States: []store.State{store.StatePending}}, nil},
	} {
		got, err := st.ListRequests(ctx(t), tc.q)
		if err != nil {
			t.Fatalf("ListRequests(%+v): %v", tc.q, err)
		}
		checkNewestFirst(t, got, created)
		if !sameSet(requestIDs(got), tc.want) {
			t.Errorf("ListRequests(%+v) = %v, want %v", tc.q, requestIDs(got), tc.want)
		}
	}

	got, err := st.ListRequests(ctx(t), store.RequestQuery{Limit: 2})
	if err != nil {
		t.Fatalf("ListRequests(Limit 2): %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("ListRequests(Limit 2) = %v, want 2 requests", requestIDs(got))
	}
	checkNewestFirst(t, got, created)
	oldestListed := got[1].CreatedAt
	for id, at := range created {
		if id != got[0].ID && id != got[1].ID && at.Unix() > oldestListed.Unix() {
			t.Errorf("ListRequests(Limit 2) = %v left out newer %s", requestIDs(got), id)
		}
	}
}

// listRequestsPages pages through listings with a limit and PageToken:
// every request once, newest first, whatever the query.
func (s suite) listRequestsPages(t *testing.T) {
	st, _ := s.fresh(t)
	var want []string
	for i := range 7 {
		r := createReq(fmt.Sprintf("c%d", i), "t1", 1)
		if i%3 == 2 {
			r = returnReq(fmt.Sprintf("r%d", i))
		}
		mustCreate(t, st, r)
		want = append([]string{r.ID}, want...)
	}
	for _, q := range []store.RequestQuery{{}, {Kind: store.KindCreate}, {TemplateID: "t1"}, {States: []store.State{store.StateRunning}}} {
		for _, limit := range []int{1, 2, 3} {
			var got []string
			q.Limit, q.After = limit, ""
			for page := 0; ; page++ {
				rs, err := st.ListRequests(ctx(t), q)
				if err != nil {
					t.Fatalf("ListRequests(%+v): %v", q, err)
				}
				if len(rs) > limit || page > 10 {
					t.Fatalf("ListRequests(%+v) = %d requests on page %d", q, len(rs), page)
				}
				got = append(got, requestIDs(rs)...)
				if len(rs) < limit {
					break
				}
				q.After = store.PageToken(rs[len(rs)-1])
			}
			var wantQ []string
			for _, id := range want {
				if q.Kind != store.KindCreate && q.TemplateID == "" || id[0] == 'c' {
					wantQ = append(wantQ, id)
				}
			}
			if !sameStrings(got, wantQ) {
				t.Errorf("pages of %d of %+v = %v, want %v", limit, q, got, wantQ)
			}
		}
	}
	if _, err := st.ListRequests(ctx(t), store.RequestQuery{After: "nonsense"}); err == nil {
		t.Error("ListRequests with a page token it never gave succeeded")
	}
}

// checkNewestFirst fails unless rs carry the CreatedAt they were created
// with and are ordered by it, newest first.
func checkNewestFirst(t *testing.T, rs []store.Request, created map[string]time.Time) {
	t.Helper()
	for i, r := range rs {
		if !sameTime(r.CreatedAt, created[r.ID]) {
			t.Errorf("request %s CreatedAt = %v, want %v", r.ID, r.CreatedAt, created[r.ID])
		}
		if i > 0 && r.CreatedAt.After(rs[i-1].CreatedAt) {
			t.Errorf("requests %v not newest first", requestIDs(rs))
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
		if count[s] < 0 {
			return false
		}
	}
	return true
}

func (s suite) update(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 2)
	mustCreate(t, st, r)
	created, v0 := r.CreatedAt, r.Version

	r.Template = []byte(`{"templateId":"tmpl-1"}`)
	r.MachineCount = 4
	r.Outstanding = 0
	r.RCAccount = "acct"
	r.Tags = []config.Tag{{Key: "team", Value: "grid ä"}}
	r.UserData = []byte(`{"x":1}`)
	r.ClientToken = "tok"
	r.CloudRef = "fleet-1"
	r.Machines = []store.MachineRef{{Name: "h1", InstanceID: "i-1"}}
	r.State = store.StateCompleteWithError
	r.Message = "1 of 4 failed"
	r.CreatedAt = time.Time{} // the store keeps its own
	mustUpdate(t, st, r)
	r.CreatedAt = created
	if r.Version <= v0 {
		t.Errorf("Version = %d after update, want > %d", r.Version, v0)
	}
	if r.UpdatedAt.Before(created.Truncate(time.Second)) || !sameTime(r.CreatedAt, created) {
		t.Errorf("after update CreatedAt, UpdatedAt = %v, %v; created %v", r.CreatedAt, r.UpdatedAt, created)
	}
	checkRequest(t, get(t, st, "req-1"), *r)

	v1 := r.Version
	mustUpdate(t, st, r)
	if r.Version <= v1 {
		t.Errorf("Version = %d after second update, want > %d", r.Version, v1)
	}
	checkRequest(t, get(t, st, "req-1"), *r)
}

func (s suite) updateConflict(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 2)
	mustCreate(t, st, r)
	first, stale := get(t, st, "req-1"), get(t, st, "req-1")

	first.Message = "first"
	mustUpdate(t, st, &first, machine("i-first", r, 0))
	stale.Message = "stale"
	staleVersion := stale.Version
	err := st.UpdateRequest(ctx(t), &stale, machine("i-stale", r, 1))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateRequest with a stale version = %v, want ErrConflict", err)
	}
	if stale.Version != staleVersion {
		t.Errorf("failed update moved Version from %d to %d", staleVersion, stale.Version)
	}
	checkRequest(t, get(t, st, "req-1"), first)
	got := machines(t, st, store.MachineQuery{RequestIDs: []string{"req-1"}})
	if !sameStrings(instanceIDs(got), []string{"i-first"}) {
		t.Errorf("machines after a conflict = %v, want only i-first", instanceIDs(got))
	}
}

func (s suite) updateNotFound(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("nobody", "tmpl-1", 1)
	r.Version = 1
	if err := st.UpdateRequest(ctx(t), r); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRequest of an unknown id = %v, want ErrNotFound", err)
	}
	absent(t, st, "nobody")
}

func (s suite) emptyIsNil(t *testing.T) {
	st, _ := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 1)
	r.Template, r.UserData, r.Machines = []byte{}, []byte{}, []store.MachineRef{}
	mustCreate(t, st, r)
	got := get(t, st, "req-1")
	if got.Template != nil || got.UserData != nil || got.Machines != nil {
		t.Errorf("empty Template, UserData, Machines read back as %#v, %#v, %#v; want nil",
			got.Template, got.UserData, got.Machines)
	}
	r.Machines = []store.MachineRef{{Name: "h"}}
	mustUpdate(t, st, r)
	r.Machines = nil
	mustUpdate(t, st, r)
	if got := get(t, st, "req-1"); got.Machines != nil {
		t.Errorf("Machines cleared to nil read back as %#v", got.Machines)
	}
}
