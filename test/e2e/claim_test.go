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
	e.age(id, time.Hour)
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

// age moves a stored request's creation back by d, as if it had been made
// that long ago.
func (e *env) age(id string, d time.Duration) {
	e.t.Helper()
	st := e.store().(*sqlite.Store)
	rs, err := st.GetRequests(e.ctx(), []string{id})
	if err != nil || len(rs) != 1 {
		e.t.Fatalf("request %s: %v", id, err)
	}
	rs[0].CreatedAt = rs[0].CreatedAt.Add(-d)
	if err := st.Import(e.ctx(), rs, nil); err != nil {
		e.t.Fatal(err)
	}
}
