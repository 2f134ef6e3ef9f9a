package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// held reads one counter.
func held(t *testing.T, st store.Store, key string) int {
	t.Helper()
	got, err := st.Held(ctx(t), []string{key})
	if err != nil {
		t.Fatalf("Held(%s): %v", key, err)
	}
	return got[key]
}

// weighted: a weighted key counts Weight per outstanding machine and per
// alive machine, through placement and a machine's end, and refuses what
// would pass its Max; the plain keys of the same request count one each.
func (s suite) weighted(t *testing.T) {
	st, _ := s.fresh(t)
	const vcpus, policy = "vcpus:P", "policy:P"
	lim := func(r *store.Request, max int) []store.Limit {
		return append(limits(r, -1), store.Limit{Key: vcpus, Max: max, Weight: 4}, store.Limit{Key: policy, Max: -1})
	}
	r := createReq("r1", "tmpl-a", 3)
	if err := st.CreateRequest(ctx(t), r, lim(r, 16)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, st, "r1"); got.LimitWeights[vcpus] != 4 || len(got.LimitWeights) != 1 || len(got.LimitKeys) != 3 {
		t.Errorf("stored limits %v %v", got.LimitKeys, got.LimitWeights)
	}
	if h := held(t, st, vcpus); h != 12 {
		t.Errorf("vcpus held %d after asking for 3 machines of 4, want 12", h)
	}
	big := createReq("r2", "tmpl-a", 2)
	err := st.CreateRequest(ctx(t), big, lim(big, 16))
	var ce *store.CapacityError
	if !errors.As(err, &ce) || ce.Key != vcpus || ce.Held != 12 || ce.Need != 8 {
		t.Errorf("2 more machines of 4 under 16: %v, want a CapacityError of %s holding 12 needing 8", err, vcpus)
	}
	// Placement: outstanding becomes machines, the counters stay; one
	// machine ends and frees its 4.
	r.Outstanding = 0
	ms := []store.Machine{machine("i-1", r, 1), machine("i-2", r, 2), machine("i-3", r, 3)}
	mustUpdate(t, st, r, ms...)
	if h, p := held(t, st, vcpus), held(t, st, policy); h != 12 || p != 3 {
		t.Errorf("after placement: vcpus %d policy %d, want 12 and 3", h, p)
	}
	ms[0].State = cloud.Terminated
	mustSave(t, st, ms[0])
	if h, p := held(t, st, vcpus), held(t, st, policy); h != 8 || p != 2 {
		t.Errorf("after a machine ended: vcpus %d policy %d, want 8 and 2", h, p)
	}
	drifts, err := st.Recount(ctx(t), []string{vcpus, policy})
	if err != nil || len(drifts) != 0 {
		t.Errorf("Recount = %v, %v; want no drift", drifts, err)
	}
}

// windowRace: racers on several handles ask for 1 to 3 machines at once
// against a window of 20; the window never counts more than 20, counts
// exactly what was admitted, and never goes down when machines end.
func (s suite) windowRace(t *testing.T) {
	const racers, max = 30, 20
	st, name := s.fresh(t)
	until := time.Now().Add(time.Hour)
	win := store.Limit{Key: "step:P@1", Max: max, Until: until}
	hs := s.handles(t, name, 4)
	admitted := make([]int, racers)
	errs := race(racers, func(i int) error {
		r := createReq(fmt.Sprintf("race-%02d", i), "tmpl-a", 1+i%3)
		err := hs[i%len(hs)].CreateRequest(ctx(t), r, append(limits(r, -1), win))
		if err == nil {
			admitted[i] = r.Outstanding
		}
		return err
	})
	total := 0
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrCapacity) {
			t.Errorf("racer %d: %v", i, err)
		}
		total += admitted[i]
	}
	got, err := st.Launched(ctx(t), []string{win.Key, "step:P@0"})
	if err != nil {
		t.Fatal(err)
	}
	if got[win.Key] != total || total > max || total < max-2 || got["step:P@0"] != 0 {
		t.Errorf("window counts %d, %d admitted, limit %d; other window %d", got[win.Key], total, max, got["step:P@0"])
	}
	first := slices.IndexFunc(admitted, func(n int) bool { return n > 0 })
	if first < 0 {
		t.Fatal("nothing admitted")
	}
	r := get(t, st, fmt.Sprintf("race-%02d", first))
	if len(r.LimitKeys) != 1 {
		t.Errorf("a request records no window among its keys, got %v", r.LimitKeys)
	}
	r.State, r.Outstanding = store.StateFailed, 0
	mustUpdate(t, st, &r)
	if got, _ := st.Launched(ctx(t), []string{win.Key}); got[win.Key] != total {
		t.Errorf("window went from %d to %d when a request failed; windows never go down", total, got[win.Key])
	}
}
