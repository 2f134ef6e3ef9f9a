package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// dynamoMachines is how many machines the DynamoDB poll rows poll; the
// target is one DynamoDB read call per 100 of them.
const dynamoMachines = 1000

// dynamoRows measures getRequestStatus with the state on DynamoDB Local
// (started by tools/dynamodb/start.sh, stopped at the end): polls of 1,000
// machines, whose calls are the DynamoDB read calls per run, counted by a
// proxy between the binary and DynamoDB Local (the name gives the other
// DynamoDB calls and the EC2 calls), and 100 concurrent polls of a
// 10,000-machine request.
func dynamoRows(ctx context.Context, bin string, runs int, floor row, concurrent bool) error {
	root, err := os.MkdirTemp("", "ohfp-bench-dynamodb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	endpoint, stop, err := startDynamoLocal(ctx, filepath.Join(root, "dynamodb"))
	if err != nil {
		return err
	}
	defer stop()
	counter, err := newCallCounter(endpoint)
	if err != nil {
		return err
	}
	proxy := httptest.NewServer(counter)
	defer proxy.Close()

	const template = "Template-DynamoDB"
	b, stopSandbox, err := newBench(bin, filepath.Join(root, "provider"), runs,
		[]map[string]any{benchTemplate(template, "t3.micro")},
		map[string]any{"OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_TABLE_PREFIX": "ohfp-bench", "OHFP_DYNAMODB_ENDPOINT_URL": proxy.URL})
	if err != nil {
		return err
	}
	defer stopSandbox()
	initStore := exec.CommandContext(ctx, bin, "store", "init")
	initStore.Env = b.host.Env
	if out, err := initStore.CombinedOutput(); err != nil {
		return fmt.Errorf("ohfp store init: %w\n%s", err, out)
	}
	id, err := b.host.RequestMachines(ctx, template, dynamoMachines)
	if err != nil {
		return err
	}

	t := &table{title: "DynamoDB Local as the store; for the 1,000-machine polls, AWS is the DynamoDB read calls (target: 1 per 100 machines)", floor: floor}
	status := func(context.Context, int) (any, error) { return statusInput(id), nil }
	for _, s := range []struct {
		step
		before func(ctx context.Context) error
	}{
		{step: step{name: "getRequestStatus 1,000 pending, DynamoDB", op: "getRequestStatus", prepare: status}},
		{step: step{name: "getRequestStatus 1,000 complete, DynamoDB", op: "getRequestStatus", prepare: status},
			// Untimed: the machines come up and the request completes.
			before: func(ctx context.Context) error {
				b.sb.Advance(pendingDelay)
				st, err := b.host.Status(ctx, id)
				if err == nil && st.Requests[0].Status != "complete" {
					err = fmt.Errorf("the %d-machine request is %s once its machines are up", dynamoMachines, st.Requests[0].Status)
				}
				return err
			}},
	} {
		if s.before != nil {
			if err := s.before(ctx); err != nil {
				return err
			}
		}
		before := counter.snapshot()
		r, err := b.measure(ctx, s.step)
		if err != nil {
			return err
		}
		reads, writes := counter.since(before)
		r.name += fmt.Sprintf(" (+%.1f writes, %.1f EC2 calls)", float64(writes)/float64(runs), r.calls)
		r.calls = float64(reads) / float64(runs)
		r.targets = []target{{"DynamoDB reads <= 1 per 100 machines", func(r *row, _ *table) (bool, string) {
			return r.calls <= dynamoMachines/100, ""
		}}, memory(64)}
		t.add(r)
	}
	if concurrent {
		// Not as its machines come up: DynamoDB Local, one Java process
		// on the same 2 cores, takes many minutes over 100 processes
		// writing 10,000 items each, and DynamoDB has no lock to be busy.
		rows, err := b.concurrent(ctx, "DynamoDB Local", template, false)
		if err != nil {
			return err
		}
		t.add(rows...)
	}
	t.print()
	return nil
}

// raceImplementations are the implementations of the DynamoDB API the
// tests have, with their OHFP_DYNAMODB_IMPL (tools/dynamodb/start.sh).
var raceImplementations = []struct{ name, env string }{
	{"DynamoDB Local", ""},
	{"moto", "moto"},
}

// races runs the admission race on each implementation of the DynamoDB API
// the tests have.
func races(ctx context.Context, bin string, rounds int) error {
	if rounds <= 0 {
		return nil
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	for _, impl := range raceImplementations {
		runDir, err := os.MkdirTemp("", "ohfp-bench-race-dynamodb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(runDir)
		endpoint, stop, err := startDynamo(ctx, runDir, impl.env)
		if err != nil {
			return err
		}
		res, err := admissionRace(ctx, bin, endpoint, rounds)
		stop()
		if err != nil {
			return fmt.Errorf("admission race on %s: %w", impl.name, err)
		}
		res.report(impl.name)
	}
	return nil
}

// startDynamoLocal starts DynamoDB Local with its pid, port and log in
// runDir and returns its endpoint and what stops it.
func startDynamoLocal(ctx context.Context, runDir string) (string, func(), error) {
	return startDynamo(ctx, runDir, "")
}

// startDynamo starts the implementation impl of tools/dynamodb/start.sh
// ("" for DynamoDB Local). Should the bench die first, the server follows
// it (OHFP_DYNAMODB_OWNER_PID).
func startDynamo(ctx context.Context, runDir, impl string) (string, func(), error) {
	start := exec.CommandContext(ctx, "tools/dynamodb/start.sh", runDir)
	start.Env = append(os.Environ(), fmt.Sprintf("OHFP_DYNAMODB_OWNER_PID=%d", os.Getpid()), "OHFP_DYNAMODB_IMPL="+impl)
	start.Stderr = os.Stderr
	out, err := start.Output()
	if err != nil {
		return "", nil, fmt.Errorf("starting %s: %w", cmp.Or(impl, "DynamoDB Local"), err)
	}
	stop := func() {
		if out, err := exec.Command("tools/dynamodb/stop.sh", runDir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping %s: %v\n%s", cmp.Or(impl, "DynamoDB Local"), err, out)
		}
	}
	return strings.TrimSpace(string(out)), stop, nil
}

// callCounter is a reverse proxy to DynamoDB that counts the operations
// passing through, by X-Amz-Target.
type callCounter struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	calls map[string]int
}

func newCallCounter(endpoint string) (*callCounter, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	return &callCounter{proxy: httputil.NewSingleHostReverseProxy(u), calls: map[string]int{}}, nil
}

func (c *callCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// "DynamoDB_20120810.Query" -> "Query"
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	c.proxy.ServeHTTP(w, r)
}

// snapshot copies the counts so far.
func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// readOps are the DynamoDB operations that read items.
var readOps = map[string]bool{"GetItem": true, "BatchGetItem": true, "Query": true, "Scan": true, "TransactGetItems": true}

// since counts the read and the other calls made after snapshot before.
func (c *callCounter) since(before map[string]int) (reads, others int) {
	for op, n := range c.snapshot() {
		if readOps[op] {
			reads += n - before[op]
		} else {
			others += n - before[op]
		}
	}
	return reads, others
}
