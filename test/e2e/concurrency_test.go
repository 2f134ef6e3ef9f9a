package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
	"github.com/ohfp/ohfp/internal/store"
)

// HostFactory runs scripts in parallel: 50 invocations at once, requests and
// status polls mixed, must all succeed and store every request exactly once.
func TestFiftyParallelInvocations(t *testing.T) {
	e := newEnv(t, sandbox.Options{PendingDelay: 200 * time.Millisecond}, []map[string]any{template("T", -1, nil)}, nil)
	var seeds []string
	for range 5 {
		seeds = append(seeds, e.request("T", 2))
	}

	const n = 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		results []hostfactory.Result
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res hostfactory.Result
			var err error
			if i%2 == 0 {
				res, err = e.hf.Call(e.ctx(), "requestMachines", map[string]any{"template": map[string]any{"templateId": "T", "machineCount": 1 + i%3}})
			} else {
				reqs := []map[string]string{{"requestId": seeds[i%len(seeds)]}, {"requestId": seeds[(i+1)%len(seeds)]}}
				res, err = e.hf.Call(e.ctx(), "getRequestStatus", map[string]any{"requests": reqs})
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			results = append(results, res)
			if res.Op == "requestMachines" && res.Exit == 0 {
				var out hostfactory.RequestID
				if err := hostfactory.Decode(res.Stdout, &out); err != nil {
					t.Error(err)
				}
				created = append(created, out.RequestID)
			}
		}()
	}
	wg.Wait()
	for _, res := range results {
		if res.Exit != 0 {
			t.Errorf("%s exited %d: %s", res.Op, res.Exit, res.Stdout)
		}
	}
	if len(created) != n/2 {
		t.Fatalf("%d requests created, want %d", len(created), n/2)
	}

	rs, err := e.store().ListRequests(e.ctx(), store.RequestQuery{Kind: store.KindCreate})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rs {
		count[r.ID]++
	}
	if len(rs) != len(seeds)+n/2 {
		t.Errorf("store holds %d requests, want %d", len(rs), len(seeds)+n/2)
	}
	for _, id := range append(seeds, created...) {
		if count[id] != 1 {
			t.Errorf("request %s stored %d times", id, count[id])
		}
	}
	for _, r := range rs {
		if got := len(e.instancesOf(r.ID)); got != r.MachineCount {
			t.Errorf("request %s: %d instances launched for %d machines", r.ID, got, r.MachineCount)
		}
	}
}
