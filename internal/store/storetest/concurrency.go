package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// race runs f(0..n-1) at once, each in its own goroutine, and returns their
// errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// handles opens n more handles on the store called name.
func (s suite) handles(t *testing.T, name string, n int) []store.Store {
	out := make([]store.Store, n)
	for i := range out {
		out[i] = s.open(t, name)
	}
	return out
}

func (s suite) capacityRace(t *testing.T) {
	const racers, limit, held = 40, 20, 5
	st, name := s.fresh(t)
	// The template already holds 5 alive machines; dead ones and finished
	// requests hold nothing, nor do other templates.
	r0 := createReq("r0", "tmpl-a", 0)
	mustCreate(t, st, r0)
	var ms []store.Machine
	for i := range held + 3 {
		m := machine("i-"+strconv.Itoa(i), r0, i)
		if i >= held {
			m.State = cloud.Terminated
		}
		ms = append(ms, m)
	}
	mustSave(t, st, ms...)
	done := createReq("done", "tmpl-a", 7)
	done.State = store.StateComplete
	mustCreate(t, st, done)
	mustCreate(t, st, createReq("other", "tmpl-b", 30))

	hs := s.handles(t, name, racers)
	errs := race(racers, func(i int) error {
		r := createReq(fmt.Sprintf("race-%02d", i), "tmpl-a", 1)
		return hs[i].CreateRequest(ctx(t), r, limits(r, limit))
	})
	ok, refused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrCapacity):
			refused++
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if ok != limit-held || refused != racers-ok {
		t.Errorf("%d created, %d refused; want %d created", ok, refused, limit-held)
	}
	stored, err := st.ListRequests(ctx(t), store.RequestQuery{Kind: store.KindCreate, TemplateID: "tmpl-a", States: []store.State{store.StateRunning}})
	if err != nil {
		t.Fatalf("ListRequests: %v", err)
	}
	if len(stored) != 1+limit-held {
		t.Errorf("%d running requests of tmpl-a stored, want %d", len(stored), 1+limit-held)
	}
	if got := usage(t, st, "tmpl-a")["tmpl-a"]; got != limit {
		t.Errorf("Usage[tmpl-a] = %d, want %d", got, limit)
	}
}

func (s suite) updateRace(t *testing.T) {
	st, name := s.fresh(t)
	r := createReq("req-1", "tmpl-1", 1)
	mustCreate(t, st, r)
	hs := []store.Store{st, s.open(t, name)}
	for round := range 20 {
		copies := []store.Request{get(t, hs[0], "req-1"), get(t, hs[1], "req-1")}
		errs := race(2, func(i int) error {
			copies[i].Message = fmt.Sprintf("round %d by %d", round, i)
			return hs[i].UpdateRequest(ctx(t), &copies[i], machine(fmt.Sprintf("i-%d-%d", round, i), r, round))
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: updates returned %v, want one nil and one ErrConflict", round, errs)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no update won: %v", round, errs)
		}
		checkRequest(t, get(t, st, "req-1"), copies[winner])
		loser := fmt.Sprintf("i-%d-%d", round, 1-winner)
		checkMachines(t, st, store.MachineQuery{InstanceIDs: []string{loser}})
	}
}

func (s suite) noLostUpdate(t *testing.T) {
	const workers, increments = 8, 10
	st, name := s.fresh(t)
	r := createReq("counter", "tmpl-1", 0)
	r.Message = "0"
	mustCreate(t, st, r)
	v0 := r.Version
	hs := append(s.handles(t, name, 1), st)
	errs := race(workers, func(i int) error {
		h := hs[i%len(hs)]
		for range increments {
			for {
				got, err := h.GetRequests(ctx(t), []string{"counter"})
				if err != nil || len(got) != 1 {
					return fmt.Errorf("read counter: %d requests, %w", len(got), err)
				}
				n, err := strconv.Atoi(got[0].Message)
				if err != nil {
					return err
				}
				got[0].Message = strconv.Itoa(n + 1)
				err = h.UpdateRequest(ctx(t), &got[0])
				if err == nil {
					break
				}
				if !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	got := get(t, st, "counter")
	if want := strconv.Itoa(workers * increments); got.Message != want {
		t.Errorf("counter = %s, want %s: updates were lost", got.Message, want)
	}
	if got.Version < v0+workers*increments {
		t.Errorf("Version = %d after %d updates from %d", got.Version, workers*increments, v0)
	}
}
