package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/sqlite"
)

// An operator or a dashboard looking at a request that HostFactory never
// got (its answer was lost) does not claim it: once HostFactory has had
// INSTANCE_CREATION_TIMEOUT to ask about it, the request is still
// recovered and its instances terminated.
func TestReadingAnOrphanLeavesItRecoverable(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, []map[string]any{template("T", 5, nil)}, nil)
	id := e.request("T", 2) // and HostFactory never asks about it

	out, stderr, exit := run(t, e.hf.Env, "requests", "show", id, "-o", "json")
	var shown struct{ Status string }
	if err := json.Unmarshal([]byte(out), &shown); exit != 0 || err != nil || shown.Status != "placed" {
		t.Fatalf("requests show: exit %d %v\n%s%s", exit, err, out, stderr)
	}
	url := e.serve()
	var st hostfactory.Status
	rest(t, "GET", url+"/api/v1/requests/"+id, "", 200, &st)
	if len(st.Requests) != 1 || st.Requests[0].Status != "placed" {
		t.Fatalf("GET /api/v1/requests/{id}: %+v", st)
	}

	// HostFactory's time to ask passes: the request is made an hour old
	// rather than waited for.
	e.age(time.Hour, id)
	if _, err := e.hf.ReturnRequests(e.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	rs, err := e.store().GetRequests(e.ctx(), []string{id})
	if err != nil || len(rs) != 1 || rs[0].State != store.StateFailed {
		t.Fatalf("orphan after recovery: %+v %v", rs, err)
	}
	for _, in := range e.instancesOf(id) {
		if in.State != "terminated" && in.State != "shutting-down" {
			t.Errorf("instance %s of the orphan left %s", in.ID, in.State)
		}
	}
}

// age moves the creation of the stored requests ids (of every pending or
// placed request when none is named) back by d, as if they had been made
// that long ago: how a test lets HostFactory's time to claim a request, or
// a killed invocation's budget, pass without waiting for it.
func (e *env) age(d time.Duration, ids ...string) {
	e.t.Helper()
	st := e.store().(*sqlite.Store)
	var rs []store.Request
	var err error
	if len(ids) > 0 {
		rs, err = st.GetRequests(e.ctx(), ids)
	} else {
		rs, err = st.ListRequests(e.ctx(), store.RequestQuery{States: []store.State{store.StatePending, store.StatePlaced}})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range rs {
		rs[i].CreatedAt = rs[i].CreatedAt.Add(-d)
	}
	if err := st.Import(e.ctx(), rs, nil); err != nil {
		e.t.Fatal(err)
	}
}

// until waits for cond, checking it every 10 ms for up to 20 s: for what
// happens in the sandbox after a call the test let go.
func (e *env) until(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("waited 20 s for %s", what)
		}
	}
}
