// Command bench measures what HostFactory feels: the whole-process latency,
// CPU time and peak memory of each operation, run through the real scripts
// against the sandbox on loopback, and the AWS calls each operation makes.
// Every target of issue 13 is a row with its target and a yes/no, judged
// as ratios within the one run (absolute times drift on a shared machine).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func main() {
	bin := flag.String("bin", "bin/ohfp", "the ohfp binary")
	runs := flag.Int("runs", 15, "runs of each light operation")
	heavy := flag.Int("heavy-runs", 5, "runs of each operation at 10,000 machines")
	population := flag.Int("population", 100_000, "live instances of the reconcile rows")
	rounds := flag.Int("race-rounds", 100, "rounds of the two-host admission race on each DynamoDB implementation")
	raceOnly := flag.Bool("race-only", false, "run only the admission race")
	skip := flag.String("skip", "", "comma-separated parts to leave out: concurrent, reconcile, dynamodb, race")
	readme := flag.String("readme", "", "rewrite the performance table of this README from the run")
	flag.Parse()
	began := time.Now()
	var err error
	if *raceOnly {
		err = races(context.Background(), *bin, *rounds)
	} else {
		set := settings{runs: *runs, heavy: *heavy, population: *population, skip: map[string]bool{}}
		for _, part := range strings.Split(*skip, ",") {
			set.skip[strings.TrimSpace(part)] = true
		}
		err = run(*bin, set)
		if err == nil && *readme != "" {
			// The races print no table: the README is written before them.
			err = writeReadme(*readme, began)
		}
		if err == nil && !set.skip["race"] {
			err = races(context.Background(), *bin, *rounds)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// settings are how much the bench measures.
type settings struct {
	runs, heavy, population int
	skip                    map[string]bool // parts left out
}

// The scale of issue 13: the guides' limits.
const (
	bigRequest   = 10_000 // machines in one request
	manyRequests = 100    // requests in one poll
	perRequest   = bigRequest / manyRequests
	callers      = 100 // concurrent getRequestStatus processes
)

// fleetTemplate is the template placed through an instant EC2 Fleet.
const fleetTemplate = "Fleet-Instant"

// benchSubnet is the sandbox subnet every benchmark instance lands in.
const benchSubnet = "subnet-0bench00000000001"

// pendingDelay keeps launched instances pending until the bench moves the
// sandbox clock on.
const pendingDelay = time.Hour

type bench struct {
	bin  string
	sb   *sandbox.Sandbox
	aws  *awsClock
	host *hostfactory.Host
	runs int
}

// newBench starts a sandbox with one large subnet and installs a provider
// instance with templates on it under root.
func newBench(bin, root string, runs int, templates []map[string]any, config map[string]any) (*bench, func(), error) {
	sb := sandbox.New(sandbox.Options{PendingDelay: pendingDelay})
	clock := &awsClock{h: sb}
	srv := httptest.NewServer(clock)
	// Hundreds of thousands of instances are launched over the runs: one
	// subnet large enough for all of them.
	if err := sb.RegisterSubnet(sandbox.Subnet{ID: benchSubnet, CIDR: "10.64.0.0/11"}); err != nil {
		srv.Close()
		return nil, nil, err
	}
	cfg := map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_INSTANCE_PENDING_TIMEOUT_SEC": 86400}
	for k, v := range config {
		cfg[k] = v
	}
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		ScriptDir: "scripts",
		Binary:    bin,
		Config:    cfg,
		Templates: map[string]any{"templates": templates},
	}.Install(root)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	host.Wrapper = timeWrapper
	return &bench{bin: bin, sb: sb, aws: clock, host: host, runs: runs}, srv.Close, nil
}

// benchTemplate is a RunInstances template on the bench subnet.
func benchTemplate(id, vmType string) map[string]any {
	return map[string]any{"templateId": id, "maxNumber": -1, "imageId": sandbox.DefaultImageID, "vmType": vmType, "subnetId": benchSubnet}
}

// benchTemplates are the 1,000 templates of the bench: RunInstances ones
// of four types, and last one placed through an instant EC2 Fleet.
func benchTemplates() []map[string]any {
	templates := make([]map[string]any, 1000)
	for i := range templates {
		templates[i] = benchTemplate(fmt.Sprintf("Template-%04d", i), []string{"t3.micro", "m5.xlarge", "c5.2xlarge", "r5.4xlarge"}[i%4])
	}
	templates[len(templates)-1] = map[string]any{
		"templateId":  fleetTemplate,
		"maxNumber":   -1,
		"providerApi": "EC2Fleet",
		"fleetType":   "instant",
		"imageId":     sandbox.DefaultImageID,
		"vmTypes":     map[string]int{"t3.micro": 1, "t3.small": 1},
		"subnetId":    benchSubnet,
	}
	return templates
}

func run(bin string, set settings) error {
	ctx := context.Background()
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "ohfp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	b, stop, err := newBench(bin, filepath.Join(root, "sqlite"), set.runs, benchTemplates(), nil)
	if err != nil {
		return err
	}
	defer stop()

	t := &table{title: fmt.Sprintf("Whole processes through the scripts, sandbox on loopback, SQLite store; medians of %d runs (%d at 10,000 machines)", set.runs, set.heavy)}
	floor, err := b.processFloor()
	if err != nil {
		return err
	}
	t.floor = floor
	t.add(floor)
	py, skip := b.pythonFloor(ctx)
	if skip != "" {
		t.note("Python floor skipped: " + skip)
	} else {
		t.python = py
		t.add(*py)
	}
	// The first getAvailableTemplates caches the instance type facts, as in
	// production; every later call answers from the store.
	if _, err := b.host.Templates(ctx); err != nil {
		return err
	}
	r, err := b.measure(ctx, step{name: "getAvailableTemplates, 1,000 templates", op: "getAvailableTemplates",
		targets: []target{startTimes(2), pythonTimes(30), memory(64)},
		prepare: func(context.Context, int) (any, error) { return map[string]any{}, nil }})
	if err != nil {
		return err
	}
	t.add(r)
	rows, err := b.bigRequest(ctx, set.heavy)
	if err != nil {
		return err
	}
	t.add(rows...)
	r, err = b.manyRequests(ctx, min(set.heavy, 5))
	if err != nil {
		return err
	}
	t.add(r)
	rows, err = b.smallOps(ctx)
	if err != nil {
		return err
	}
	t.add(rows...)
	if !set.skip["concurrent"] {
		rows, err = b.concurrent(ctx, "SQLite", "Template-0001", true)
		if err != nil {
			return err
		}
		t.add(rows...)
	}
	t.print()

	if !set.skip["reconcile"] {
		if err := reconcileRows(ctx, bin, filepath.Join(root, "reconcile"), set.population, min(set.heavy, 5), floor); err != nil {
			return err
		}
	}
	if !set.skip["dynamodb"] {
		if err := dynamoRows(ctx, bin, set.runs, floor, !set.skip["concurrent"]); err != nil {
			return err
		}
	}
	return nil
}

// bigRequest measures one request of 10,000 machines through its life:
// the launch, the poll that finds them all pending, the poll that sees them
// all come up, and the poll of the complete request.
func (b *bench) bigRequest(ctx context.Context, runs int) ([]row, error) {
	var id string
	return b.cycle(ctx, runs, []step{
		{name: "requestMachines, 10,000 machines (RunInstances)", op: "requestMachines",
			targets: []target{beyondAWS(400 * time.Millisecond), memory(64)},
			prepare: func(_ context.Context, i int) (any, error) {
				return requestInput(fmt.Sprintf("Template-%04d", 1+i%4), bigRequest), nil
			},
			after: func(res hostfactory.Result) error {
				var err error
				id, err = requestID(res)
				return err
			}},
		{name: "getRequestStatus, 10,000 machines pending", op: "getRequestStatus",
			targets: []target{memory(64)},
			prepare: func(context.Context, int) (any, error) { return statusInput(id), nil }},
		{name: "getRequestStatus, 10,000 machines, the settling poll", op: "getRequestStatus",
			targets: []target{wallAtMost(400 * time.Millisecond), memory(64)},
			prepare: func(context.Context, int) (any, error) {
				b.sb.Advance(pendingDelay)
				return statusInput(id), nil
			},
			after: wantStatus(bigRequest, "complete")},
		{name: "getRequestStatus, 10,000 machines complete", op: "getRequestStatus",
			targets: []target{startTimes(4), memory(40)},
			prepare: func(context.Context, int) (any, error) { return statusInput(id), nil },
			after:   wantStatus(bigRequest, "complete")},
	})
}

// manyRequests measures one poll carrying 100 requests of 100 machines,
// the poll that sees them all come up, as HostFactory polls many open
// requests at once.
func (b *bench) manyRequests(ctx context.Context, runs int) (row, error) {
	var ids []string
	return b.measure(ctx, step{name: "getRequestStatus, 100 requests of 100 machines coming up", op: "getRequestStatus",
		runs:    runs,
		targets: []target{beyondAWSStarts(3), awsCallsPerSettling(1000, 0), memory(64)},
		prepare: func(ctx context.Context, i int) (any, error) {
			ids = ids[:0]
			for range manyRequests {
				id, err := b.host.RequestMachines(ctx, fmt.Sprintf("Template-%04d", 1+i%4), perRequest)
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
			// HostFactory has polled them while they were pending.
			if _, err := b.host.Status(ctx, ids...); err != nil {
				return nil, err
			}
			b.sb.Advance(pendingDelay)
			return statusInput(ids...), nil
		},
		settling: bigRequest,
	})
}

// smallOps are the operations at smaller scales: a fleet, one machine,
// returns and reclaims.
func (b *bench) smallOps(ctx context.Context) ([]row, error) {
	pending, err := b.host.RequestMachines(ctx, "Template-0000", 1000)
	if err != nil {
		return nil, err
	}
	st, err := b.host.Status(ctx, pending)
	if err != nil {
		return nil, err
	}
	if n := len(st.Requests[0].Machines); n != 1000 {
		return nil, fmt.Errorf("the 1,000-machine request has %d machines", n)
	}
	hosts := hostfactory.Hosts(st.Requests[0].Machines)
	var fleetUp string
	var rows []row
	for _, s := range []step{
		{name: "requestMachines, 1,000 machines, EC2 Fleet instant", op: "requestMachines",
			targets: []target{memory(64)},
			prepare: func(context.Context, int) (any, error) { return requestInput(fleetTemplate, 1000), nil }},
		{name: "getRequestStatus, 1,000 fleet machines coming up", op: "getRequestStatus",
			targets: []target{awsCallsPerSettling(1000, 1), memory(64)}, settling: 1000,
			prepare: func(ctx context.Context, _ int) (any, error) {
				if err := b.release(ctx, fleetUp); err != nil {
					return nil, err
				}
				id, err := b.host.RequestMachines(ctx, fleetTemplate, 1000)
				if err != nil {
					return nil, err
				}
				b.sb.Advance(pendingDelay)
				fleetUp = id
				return statusInput(id), nil
			}},
		{name: "getRequestStatus, 1,000 fleet machines complete", op: "getRequestStatus",
			targets: []target{startTimes(4), memory(40)},
			prepare: func(context.Context, int) (any, error) { return statusInput(fleetUp), nil }},
		{name: "requestMachines, 1 machine", op: "requestMachines",
			targets: []target{memory(64)},
			prepare: func(_ context.Context, i int) (any, error) {
				return requestInput(fmt.Sprintf("Template-%04d", 2+i), 1), nil
			}},
		{name: "requestReturnMachines, 10 machines", op: "requestReturnMachines",
			targets: []target{memory(64)},
			prepare: func(_ context.Context, i int) (any, error) {
				return map[string]any{"machines": hosts[10*i : 10*i+10]}, nil
			}},
		{name: "getReturnRequests, 1,000 hosts", op: "getReturnRequests",
			targets: []target{memory(64)},
			prepare: func(context.Context, int) (any, error) { return map[string]any{"machines": hosts}, nil }},
	} {
		r, err := b.measure(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// release returns the machines of an earlier run's request, untimed, so
// that the sandbox's subnets do not run out of addresses over many runs.
func (b *bench) release(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	st, err := b.host.Status(ctx, id)
	if err != nil {
		return err
	}
	_, err = b.host.ReturnMachines(ctx, hostfactory.Hosts(st.Requests[0].Machines))
	return err
}

func requestInput(template string, n int) any {
	return map[string]any{"template": map[string]any{"templateId": template, "machineCount": n}}
}

func statusInput(ids ...string) any {
	reqs := make([]map[string]string, len(ids))
	for i, id := range ids {
		reqs[i] = map[string]string{"requestId": id}
	}
	return map[string]any{"requests": reqs}
}

func requestID(res hostfactory.Result) (string, error) {
	var out struct {
		RequestID string `json:"requestId"`
		Message   string `json:"message"`
	}
	if err := hostfactory.Decode(res.Stdout, &out); err != nil {
		return "", fmt.Errorf("requestMachines answered %.200q: %w", res.Stdout, err)
	}
	return out.RequestID, nil
}

// wantStatus checks that a poll answered one request of n machines in
// state status.
func wantStatus(n int, status string) func(hostfactory.Result) error {
	return func(res hostfactory.Result) error {
		var out hostfactory.Status
		if err := hostfactory.Decode(res.Stdout, &out); err != nil {
			return fmt.Errorf("getRequestStatus answered %.200q: %w", res.Stdout, err)
		}
		if len(out.Requests) != 1 || out.Requests[0].Status != status || len(out.Requests[0].Machines) != n {
			return fmt.Errorf("getRequestStatus answered %.300q, want one request %s with %d machines", res.Stdout, status, n)
		}
		return nil
	}
}
