// Package transfer copies ohfp's state between stores, for moving a site
// from SQLite to DynamoDB (or back) and for backups.
package transfer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Importer is a store that can take requests and machines verbatim,
// CreatedAt, UpdatedAt and Version included, which store.Store's
// CreateRequest cannot.
type Importer interface {
	Import(ctx context.Context, requests []store.Request, machines []store.Machine) error
}

// FactLister is a store that can list its cached facts, which store.Store
// can only look up by key.
type FactLister interface {
	AllFacts(ctx context.Context) (map[string][]byte, error)
}

// Counts is what a copy wrote, as counted back from the destination.
type Counts struct {
	Requests int
	Machines int
	Events   int
	// Facts is -1 when the source cannot list its facts: they are a cache
	// of cloud answers that the destination fills again on demand.
	Facts int
}

// idsPerRead bounds the ids of one Machines read.
const idsPerRead = 100

// Copy copies every request, every machine tied to one or still alive,
// every event and every fact from one store to another, then reads the
// destination back and fails unless it holds as many of each. What the
// destination held already stays, items with the same ids being replaced
// and events it holds already not copied again.
func Copy(ctx context.Context, from, to store.Store) (Counts, error) {
	imp, ok := to.(Importer)
	if !ok {
		return Counts{}, fault.New(fault.Configuration, "cannot copy into a %T store: it cannot import", to)
	}
	requests, err := from.ListRequests(ctx, store.RequestQuery{})
	if err != nil {
		return Counts{}, fmt.Errorf("copy: list requests: %w", err)
	}
	ids := make([]string, len(requests))
	for i, r := range requests {
		ids[i] = r.ID
	}
	machines, err := allMachines(ctx, from, ids)
	if err != nil {
		return Counts{}, fmt.Errorf("copy: %w", err)
	}
	if err := imp.Import(ctx, requests, machines); err != nil {
		return Counts{}, fmt.Errorf("copy: %w", err)
	}
	lister, canList := from.(FactLister)
	var facts map[string][]byte
	if canList {
		if facts, err = lister.AllFacts(ctx); err != nil {
			return Counts{}, fmt.Errorf("copy: list facts: %w", err)
		}
		for k, v := range facts {
			if err := to.PutFact(ctx, k, v); err != nil {
				return Counts{}, fmt.Errorf("copy: %w", err)
			}
		}
	}

	events, err := copyEvents(ctx, from, to)
	if err != nil {
		return Counts{}, fmt.Errorf("copy: %w", err)
	}

	got, err := count(ctx, to, ids, machines, facts)
	if err != nil {
		return got, fmt.Errorf("copy: verify: %w", err)
	}
	if got.Events, err = heldEvents(ctx, to, events); err != nil {
		return got, fmt.Errorf("copy: verify: %w", err)
	}
	want := Counts{Requests: len(requests), Machines: len(machines), Events: len(events), Facts: len(facts)}
	if !canList {
		got.Facts, want.Facts = -1, -1
	}
	if got != want {
		return got, fault.New(fault.Internal, "copy: destination holds %+v of %+v copied", got, want)
	}
	return got, nil
}

// allMachines reads the machines tied to requests ids, as launched or as
// returned, and the alive ones whose requests are gone.
func allMachines(ctx context.Context, from store.Store, ids []string) ([]store.Machine, error) {
	seen := map[string]bool{}
	var out []store.Machine
	add := func(q store.MachineQuery) error {
		ms, err := from.Machines(ctx, q)
		if err != nil {
			return fmt.Errorf("read machines: %w", err)
		}
		for _, m := range ms {
			if !seen[m.InstanceID] {
				seen[m.InstanceID] = true
				out = append(out, m)
			}
		}
		return nil
	}
	for chunk := range slices.Chunk(ids, idsPerRead) {
		if err := add(store.MachineQuery{RequestIDs: chunk}); err != nil {
			return nil, err
		}
		if err := add(store.MachineQuery{ReturnIDs: chunk}); err != nil {
			return nil, err
		}
	}
	if err := add(store.MachineQuery{AliveOnly: true}); err != nil {
		return nil, err
	}
	return out, nil
}

// count reads back from to how many of the requests, machines and facts
// copied it holds.
func count(ctx context.Context, to store.Store, ids []string, machines []store.Machine, facts map[string][]byte) (Counts, error) {
	var c Counts
	for chunk := range slices.Chunk(ids, idsPerRead) {
		rs, err := to.GetRequests(ctx, chunk)
		if err != nil {
			return c, err
		}
		c.Requests += len(rs)
	}
	for chunk := range slices.Chunk(machines, idsPerRead) {
		ids := make([]string, len(chunk))
		for i, m := range chunk {
			ids[i] = m.InstanceID
		}
		ms, err := to.Machines(ctx, store.MachineQuery{InstanceIDs: ids})
		if err != nil {
			return c, err
		}
		c.Machines += len(ms)
	}
	for k := range facts {
		_, ok, err := to.Fact(ctx, k)
		if err != nil {
			return c, err
		}
		if ok {
			c.Facts++
		}
	}
	return c, nil
}

// copyEvents appends to `to` the events of `from` that it lacks, oldest
// first so that events of the same time keep their order, and returns the
// events of `from`. Events have no ids: one equal in every field is the
// same event.
func copyEvents(ctx context.Context, from, to store.Store) ([]store.Event, error) {
	events, err := from.Events(ctx, store.EventQuery{})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	held, err := eventCounts(ctx, to)
	if err != nil {
		return nil, err
	}
	var missing []store.Event
	for _, e := range slices.Backward(events) {
		if k := keyOf(e); held[k] > 0 {
			held[k]--
		} else {
			missing = append(missing, e)
		}
	}
	if err := to.AppendEvents(ctx, missing); err != nil {
		return nil, err
	}
	return events, nil
}

// heldEvents counts the events among events that `to` holds.
func heldEvents(ctx context.Context, to store.Store, events []store.Event) (int, error) {
	held, err := eventCounts(ctx, to)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range events {
		if k := keyOf(e); held[k] > 0 {
			held[k]--
			n++
		}
	}
	return n, nil
}

// eventKey is an event as a map key: its time as Unix nanoseconds, as
// every store keeps it.
type eventKey struct {
	nanos int64
	event store.Event // Time zeroed
}

func keyOf(e store.Event) eventKey {
	n := e.Time.UnixNano()
	e.Time = time.Time{}
	return eventKey{n, e}
}

// eventCounts counts the events st holds by key.
func eventCounts(ctx context.Context, st store.Store) (map[eventKey]int, error) {
	events, err := st.Events(ctx, store.EventQuery{})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	held := make(map[eventKey]int, len(events))
	for _, e := range events {
		held[keyOf(e)]++
	}
	return held, nil
}
