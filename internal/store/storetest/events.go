package storetest

import (
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/store"
)

// Events are stamped around now: a store may look no further back than its
// retention.
func eventsAt(now time.Time) []store.Event {
	return []store.Event{
		{Time: now.Add(-3 * time.Hour), RequestID: "req-1", Action: "request.stored", Actor: "requestMachines by hf@host pid 1", Detail: "2 machines of tmpl-1"},
		{Time: now.Add(-2 * time.Hour), RequestID: "req-1", InstanceID: "i-1", Action: "machine.adopted", Actor: "getRequestStatus by hf@host pid 2", Detail: "found by its tag"},
		{Time: now.Add(-90 * time.Minute), RequestID: "req-2", Action: "request.stored", Actor: "requestMachines by hf@host pid 3"},
		{Time: now.Add(-time.Hour), InstanceID: "i-9", Action: "machine.terminated", Actor: "ohfp reconcile by root@host pid 4", Detail: "unknown to HostFactory"},
		{Time: now.Add(-30 * time.Minute), RequestID: "req-1", Action: "request.finished", Actor: "getRequestStatus by hf@host pid 5", Detail: "complete"},
	}
}

func listEvents(t *testing.T, st store.Store, q store.EventQuery) []store.Event {
	t.Helper()
	got, err := st.Events(ctx(t), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return got
}

func mustAppend(t *testing.T, st store.Store, es []store.Event) {
	t.Helper()
	if err := st.AppendEvents(ctx(t), es); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
}

// checkEvents fails unless got is want in this order, as a store keeps them.
func checkEvents(t *testing.T, what string, got []store.Event, want ...store.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range want {
		checkKept(t, what, got[i], want[i], func(e *store.Event) []*time.Time { return []*time.Time{&e.Time} })
	}
}

func (s suite) events(t *testing.T) {
	st, name := s.fresh(t)
	checkEvents(t, "empty trail", listEvents(t, st, store.EventQuery{}))
	mustAppend(t, st, nil)
	es := eventsAt(time.Now().UTC())
	mustAppend(t, st, es[:2])
	mustAppend(t, st, es[2:])

	other := s.open(t, name)
	checkEvents(t, "all", listEvents(t, other, store.EventQuery{}), es[4], es[3], es[2], es[1], es[0])
	checkEvents(t, "by request", listEvents(t, other, store.EventQuery{RequestID: "req-1"}), es[4], es[1], es[0])
	checkEvents(t, "by unknown request", listEvents(t, other, store.EventQuery{RequestID: "req-nope"}))
	checkEvents(t, "limit", listEvents(t, other, store.EventQuery{Limit: 2}), es[4], es[3])
	checkEvents(t, "by request, limit", listEvents(t, other, store.EventQuery{RequestID: "req-1", Limit: 2}), es[4], es[1])
	checkEvents(t, "since", listEvents(t, other, store.EventQuery{Since: es[3].Time}), es[4], es[3])
	checkEvents(t, "by request, since", listEvents(t, other, store.EventQuery{RequestID: "req-1", Since: es[1].Time.Add(-time.Second)}), es[4], es[1])
}

// eventsSameTime: events of one call stamped alike list in reverse call
// order, as one operation's changes read back newest first.
func (s suite) eventsSameTime(t *testing.T) {
	st, _ := s.fresh(t)
	now := time.Now().UTC()
	var es []store.Event
	for _, a := range []string{"request.stored", "request.placed", "request.finished"} {
		es = append(es, store.Event{Time: now, RequestID: "req-1", Action: a})
	}
	mustAppend(t, st, es)
	checkEvents(t, "same time", listEvents(t, st, store.EventQuery{}), es[2], es[1], es[0])
	checkEvents(t, "same time by request", listEvents(t, st, store.EventQuery{RequestID: "req-1"}), es[2], es[1], es[0])
}

// eventsMany crosses the batch sizes a backend might write in.
func (s suite) eventsMany(t *testing.T) {
	const n = 60
	st, _ := s.fresh(t)
	now := time.Now().UTC()
	es := make([]store.Event, n)
	for i := range es {
		es[i] = store.Event{Time: now.Add(time.Duration(i-n) * time.Second), RequestID: "req-1", Action: "request.placed"}
	}
	mustAppend(t, st, es)
	if got := listEvents(t, st, store.EventQuery{}); len(got) != n {
		t.Errorf("Events after appending %d = %d", n, len(got))
	}
	got := listEvents(t, st, store.EventQuery{RequestID: "req-1", Limit: 1})
	checkEvents(t, "newest of many", got, es[n-1])
}

func (s suite) eventsPurge(t *testing.T) {
	st, _ := s.fresh(t)
	es := eventsAt(time.Now().UTC())
	mustAppend(t, st, es)
	if _, err := st.Purge(ctx(t), es[2].Time.Add(time.Second)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	checkEvents(t, "after purge", listEvents(t, st, store.EventQuery{}), es[4], es[3])
	checkEvents(t, "by request after purge", listEvents(t, st, store.EventQuery{RequestID: "req-1"}), es[4])
}
