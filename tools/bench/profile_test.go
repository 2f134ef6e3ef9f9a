package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// The operations of the bench in this process, to profile them:
//
//	go test ./tools/bench -run '^$' -bench SettlingPoll -benchtime 5x -cpuprofile cpu.out
//	go tool pprof -top -focus 'ohfp/internal/(app|broker|store|cloud|hf)' cpu.out
//
// The sandbox answers in this process too: its functions (internal/sandbox)
// are the cloud's share of a profile.

// profiled is a provider instance on a sandbox, operated in this process.
type profiled struct {
	sb  *sandbox.Sandbox
	env func(string) string
}

func newProfiled(b *testing.B) *profiled {
	sb := sandbox.New(sandbox.Options{PendingDelay: pendingDelay})
	srv := httptest.NewServer(sb)
	b.Cleanup(srv.Close)
	if err := sb.RegisterSubnet(sandbox.Subnet{ID: benchSubnet, CIDR: "10.64.0.0/11"}); err != nil {
		b.Fatal(err)
	}
	host, err := hostfactory.Provider{
		Name: "awsinst", ScriptDir: "scripts", Binary: "ohfp",
		Config:    map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_INSTANCE_PENDING_TIMEOUT_SEC": 86400},
		Templates: map[string]any{"templates": benchTemplates()},
	}.Install(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range host.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		if strings.HasPrefix(k, "AWS_") {
			b.Setenv(k, v) // the SDK reads its own variables
		}
	}
	return &profiled{sb: sb, env: func(k string) string { return vars[k] }}
}

func (p *profiled) call(b *testing.B, op string, in any) []byte {
	body, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	out, exit := app.RunHF(context.Background(), op, func() ([]byte, error) { return body, nil }, p.env)
	if exit != 0 {
		b.Fatalf("%s exited %d: %.500s", op, exit, out)
	}
	return out
}

func (p *profiled) request(b *testing.B, n int) string {
	out := p.call(b, "requestMachines", requestInput("Template-0001", n))
	var r hostfactory.RequestID
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	return r.RequestID
}

func BenchmarkTemplates(b *testing.B) {
	p := newProfiled(b)
	p.call(b, "getAvailableTemplates", map[string]any{}) // caches the type facts
	for b.Loop() {
		p.call(b, "getAvailableTemplates", map[string]any{})
	}
}

func BenchmarkRequestMachines(b *testing.B) {
	p := newProfiled(b)
	for b.Loop() {
		p.request(b, bigRequest)
	}
}

func BenchmarkSettlingPoll(b *testing.B) {
	p := newProfiled(b)
	for range b.N {
		b.StopTimer()
		id := p.request(b, bigRequest)
		p.call(b, "getRequestStatus", statusInput(id))
		p.sb.Advance(pendingDelay)
		b.StartTimer()
		p.call(b, "getRequestStatus", statusInput(id))
	}
}

func BenchmarkCompletePoll(b *testing.B) {
	p := newProfiled(b)
	id := p.request(b, bigRequest)
	p.sb.Advance(pendingDelay)
	p.call(b, "getRequestStatus", statusInput(id))
	for b.Loop() {
		p.call(b, "getRequestStatus", statusInput(id))
	}
}

func BenchmarkManyRequestsPoll(b *testing.B) {
	p := newProfiled(b)
	for range b.N {
		b.StopTimer()
		var ids []string
		for range manyRequests {
			ids = append(ids, p.request(b, perRequest))
		}
		p.call(b, "getRequestStatus", statusInput(ids...))
		p.sb.Advance(pendingDelay)
		b.StartTimer()
		p.call(b, "getRequestStatus", statusInput(ids...))
	}
}

func BenchmarkReconcile(b *testing.B) {
	p := newProfiled(b)
	for range 2 {
		p.request(b, bigRequest)
	}
	p.sb.Advance(pendingDelay)
	a, err := app.FromEnv(context.Background(), p.env)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for b.Loop() {
		if _, err := a.Broker.Reconcile(context.Background(), broker.ReconcileOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
