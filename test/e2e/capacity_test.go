package e2e

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// TestMaxNumberExactAcrossHosts: two HostFactory hosts share one table
// prefix; the template's maxNumber is 20 and 2 machines are held (3
// launched, 1 returned). 30 single-machine requests at once, split across
// the hosts, through the scripts, must grant exactly 18 and leave exactly
// 20 alive, on every implementation of the DynamoDB API the tests have.
func TestMaxNumberExactAcrossHosts(t *testing.T) {
	for _, impl := range dynamoImplementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			const maxNumber, requests = 20, 30
			tables := dynamoTablesAt(t, impl.endpoint)
			a := newEnv(t, sandbox.Options{ShutdownDelay: 100 * time.Millisecond}, []map[string]any{template("T", maxNumber, nil)}, tables)
			if out, errOut, exit := run(t, a.hf.Env, "store", "init"); exit != 0 {
				t.Fatalf("store init: exit %d\n%s%s", exit, out, errOut)
			}
			b := a.otherHost()
			first := a.wait(a.request("T", 3))
			if first.Status != "complete" || len(first.Machines) != 3 {
				t.Fatalf("first request ended %s with %d machines", first.Status, len(first.Machines))
			}
			ret, err := b.ReturnMachines(a.ctx(), hostfactory.Hosts(first.Machines[:1]))
			if err != nil {
				t.Fatal(err)
			}
			if r, err := b.Wait(a.ctx(), ret, 100*time.Millisecond); err != nil || r.Status != "complete" {
				t.Fatalf("return ended %+v, %v", r, err)
			}

			granted, refused, ids := race(t, []*hostfactory.Host{a.hf, b}, requests)
			if held := 2; granted != maxNumber-held || refused != requests-granted {
				t.Errorf("%d granted, %d refused; want %d granted and %d refused", granted, refused, maxNumber-held, requests-(maxNumber-held))
			}
			for _, id := range ids {
				a.wait(id)
			}
			alive := 0
			for _, in := range a.sb.Instances() {
				if in.State == "pending" || in.State == "running" {
					alive++
				}
			}
			if alive != maxNumber {
				t.Errorf("%d instances alive, want maxNumber %d", alive, maxNumber)
			}
			tl, err := b.Templates(a.ctx())
			if err != nil {
				t.Fatal(err)
			}
			if got := *tl.Templates[0].AvailableNumber; got != maxNumber-alive {
				t.Errorf("availableNumber = %d with %d alive, want %d", got, alive, maxNumber-alive)
			}
		})
	}
}

// race asks for n single machines of template T at once, alternating
// between hosts, and returns how many were granted and refused with
// QUOTA_EXCEEDED, and the ids of those granted. Any other answer fails t.
func race(t *testing.T, hosts []*hostfactory.Host, n int) (granted, refused int, ids []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		host := hosts[i%len(hosts)]
		wg.Go(func() {
			<-start
			id, err := host.RequestMachines(t.Context(), "T", 1)
			mu.Lock()
			defer mu.Unlock()
			var f *hostfactory.Failure
			switch {
			case err == nil:
				granted++
				ids = append(ids, id)
			case errors.As(err, &f) && f.Result.Exit == 3 && strings.Contains(string(f.Result.Stdout), "QUOTA_EXCEEDED"):
				refused++
			default:
				t.Errorf("request %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return granted, refused, ids
}
