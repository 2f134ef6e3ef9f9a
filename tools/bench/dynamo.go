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

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// dynamoMachines is how many machines the DynamoDB steps poll; the target
// is one DynamoDB read call per 100 of them.
const dynamoMachines = 1000

// dynamoRows measures getRequestStatus over 1,000 machines with the state
// on DynamoDB Local (started by tools/dynamodb/start.sh, stopped at the
// end). Each row's calls are the DynamoDB read calls per run, counted by a
// proxy between the binary and DynamoDB Local; its name gives the other
// DynamoDB calls (writes) and the EC2 calls.
func dynamoRows(ctx context.Context, bin string, runs int) ([]row, error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "ohfp-bench-dynamodb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	endpoint, stop, err := startDynamoLocal(ctx, filepath.Join(root, "dynamodb"))
	if err != nil {
		return nil, err
	}
	defer stop()
	counter, err := newCallCounter(endpoint)
	if err != nil {
		return nil, err
	}
	proxy := httptest.NewServer(counter)
	defer proxy.Close()

	sb := sandbox.New(sandbox.Options{PendingDelay: pendingDelay})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		ScriptDir: "scripts",
		Binary:    bin,
		Config: map[string]any{
			"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_INSTANCE_PENDING_TIMEOUT_SEC": 86400,
			"OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_TABLE_PREFIX": "ohfp-bench", "OHFP_DYNAMODB_ENDPOINT_URL": proxy.URL,
		},
		Templates: map[string]any{"templates": []map[string]any{{
			"templateId": "Template-DynamoDB", "maxNumber": 10 * dynamoMachines,
			"imageId": sandbox.DefaultImageID, "vmType": "t3.micro", "subnetId": sandbox.DefaultSubnetIDs[0],
		}}},
	}.Install(root)
	if err != nil {
		return nil, err
	}
	host.Wrapper = timeWrapper
	initStore := exec.CommandContext(ctx, bin, "store", "init")
	initStore.Env = host.Env
	if out, err := initStore.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ohfp store init: %w\n%s", err, out)
	}
	id, err := host.RequestMachines(ctx, "Template-DynamoDB", dynamoMachines)
	if err != nil {
		return nil, err
	}

	b := &bench{sb: sb, host: host, runs: runs}
	status := func(context.Context, int) (any, error) { return statusInput(id), nil }
	var rows []row
	for _, s := range []struct {
		step
		before func(ctx context.Context) error
	}{
		{step: step{name: "getRequestStatus 1,000 pending, DynamoDB", op: "getRequestStatus", prepare: status}},
		{step: step{name: "getRequestStatus 1,000 complete, DynamoDB", op: "getRequestStatus", prepare: status},
			// Untimed: the machines come up and the request completes.
			before: func(ctx context.Context) error {
				sb.Advance(pendingDelay)
				st, err := host.Status(ctx, id)
				if err == nil && st.Requests[0].Status != "complete" {
					err = fmt.Errorf("the %d-machine request is %s once its machines are up", dynamoMachines, st.Requests[0].Status)
				}
				return err
			}},
	} {
		if s.before != nil {
			if err := s.before(ctx); err != nil {
				return nil, err
			}
		}
		s.maxCalls = dynamoMachines / 100
		before := counter.snapshot()
		r, err := b.measure(ctx, s.step)
		if err != nil {
			return nil, err
		}
		reads, writes := counter.since(before)
		r.name += fmt.Sprintf(" (+%.1f writes, %.1f EC2 calls)", float64(writes)/float64(runs), r.calls)
		r.calls = float64(reads) / float64(runs)
		rows = append(rows, r)
	}
	return rows, nil
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
