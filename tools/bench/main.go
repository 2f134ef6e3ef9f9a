// Command bench measures what HostFactory feels: the whole-process latency,
// CPU time and peak memory of each operation, run through the real scripts
// against the sandbox on loopback, and the AWS calls each operation makes.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func main() {
	bin := flag.String("bin", "bin/ohfp", "the ohfp binary")
	runs := flag.Int("runs", 25, "runs of each operation")
	rounds := flag.Int("race-rounds", 100, "rounds of the two-host admission race on each DynamoDB implementation")
	raceOnly := flag.Bool("race-only", false, "run only the admission race")
	flag.Parse()
	var err error
	if *raceOnly {
		err = races(context.Background(), *bin, *rounds)
	} else {
		err = run(*bin, *runs, *rounds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// fleetTemplate is the template placed through an instant EC2 Fleet.
const fleetTemplate = "Fleet-Instant"

// benchSubnet is the sandbox subnet every benchmark instance lands in.
const benchSubnet = "subnet-0bench00000000001"

// pendingDelay keeps launched instances pending until the bench moves the
// sandbox clock on.
const pendingDelay = time.Hour

// step is one measured operation; prepare (untimed) returns each run's input.
type step struct {
	name     string
	op       string
	target   time.Duration
	maxCalls float64 // AWS calls per run; 0 for no target
	prepare  func(ctx context.Context, i int) (any, error)
}

// row is what a step measured.
type row struct {
	step
	wall, cpu []time.Duration
	rss       int64
	calls     float64 // AWS calls per run
}

type bench struct {
	sb   *sandbox.Sandbox
	host *hostfactory.Host
	runs int
}

func run(bin string, runs, rounds int) error {
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

	sb := sandbox.New(sandbox.Options{PendingDelay: pendingDelay})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	// Tens of thousands of instances are launched over the runs: one subnet
	// large enough for all of them.
	if err := sb.RegisterSubnet(sandbox.Subnet{ID: benchSubnet, CIDR: "10.64.0.0/12"}); err != nil {
		return err
	}

	templates := make([]map[string]any, 1000)
	for i := range templates {
		templates[i] = map[string]any{
			"templateId": fmt.Sprintf("Template-%04d", i),
			"maxNumber":  -1,
			"imageId":    sandbox.DefaultImageID,
			"vmType":     []string{"t3.micro", "m5.xlarge", "c5.2xlarge", "r5.4xlarge"}[i%4],
			"subnetId":   benchSubnet,
		}
	}
	// The last one places its machines through an EC2 Fleet.
	templates[len(templates)-1] = map[string]any{
		"templateId":  fleetTemplate,
		"maxNumber":   -1,
		"providerApi": "EC2Fleet",
		"fleetType":   "instant",
		"imageId":     sandbox.DefaultImageID,
		"vmTypes":     map[string]int{"t3.micro": 1, "t3.small": 1},
		"subnetId":    benchSubnet,
	}
	host, err := hostfactory.Provider{
		Name:      "awsinst",
		ScriptDir: "scripts",
		Binary:    bin,
		Config:    map[string]any{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL, "AWS_INSTANCE_PENDING_TIMEOUT_SEC": 86400},
		Templates: map[string]any{"templates": templates},
	}.Install(root)
	if err != nil {
		return err
	}
	host.Wrapper = timeWrapper
	b := &bench{sb: sb, host: host, runs: runs}

	floor, err := b.processFloor(bin)
	if err != nil {
		return err
	}
	// The first getAvailableTemplates caches the instance type facts, as in
	// production; every later call answers from the store.
	if _, err := host.Templates(ctx); err != nil {
		return err
	}
	pending, err := host.RequestMachines(ctx, "Template-0000", 1000)
	if err != nil {
		return err
	}
	st, err := host.Status(ctx, pending)
	if err != nil {
		return err
	}
	if n := len(st.Requests[0].Machines); n != 1000 {
		return fmt.Errorf("the 1,000-machine request has %d machines", n)
	}
	hosts := hostfactory.Hosts(st.Requests[0].Machines)
	var lastUp, fleetUp string

	steps := []step{
		{"getAvailableTemplates, 1,000 templates", "getAvailableTemplates", 20 * time.Millisecond, 0,
			func(context.Context, int) (any, error) { return map[string]any{}, nil }},
		{"getRequestStatus, 1,000 machines pending", "getRequestStatus", 20 * time.Millisecond, 0,
			func(context.Context, int) (any, error) { return statusInput(pending), nil }},
		{"getRequestStatus, 1,000 machines coming up", "getRequestStatus", 0, 0,
			func(ctx context.Context, _ int) (any, error) {
				if err := b.release(ctx, lastUp); err != nil {
					return nil, err
				}
				id, err := host.RequestMachines(ctx, "Template-0001", 1000)
				if err != nil {
					return nil, err
				}
				sb.Advance(pendingDelay)
				lastUp = id
				return statusInput(id), nil
			}},
		{"getRequestStatus, 1,000 machines complete", "getRequestStatus", 20 * time.Millisecond, 0,
			func(context.Context, int) (any, error) { return statusInput(lastUp), nil }},
		{name: "requestMachines, 1,000 machines, EC2Fleet", op: "requestMachines",
			prepare: func(context.Context, int) (any, error) {
				return map[string]any{"template": map[string]any{"templateId": fleetTemplate, "machineCount": 1000}}, nil
			}},
		{name: "getRequestStatus, 1,000 fleet machines up", op: "getRequestStatus", maxCalls: 3,
			prepare: func(ctx context.Context, _ int) (any, error) {
				if err := b.release(ctx, fleetUp); err != nil {
					return nil, err
				}
				id, err := host.RequestMachines(ctx, fleetTemplate, 1000)
				if err != nil {
					return nil, err
				}
				sb.Advance(pendingDelay)
				fleetUp = id
				return statusInput(id), nil
			}},
		{name: "getRequestStatus, 1,000 fleet machines done", op: "getRequestStatus", maxCalls: 3,
			prepare: func(context.Context, int) (any, error) { return statusInput(fleetUp), nil }},
		{"requestMachines, 1 machine", "requestMachines", 0, 0,
			func(_ context.Context, i int) (any, error) {
				return map[string]any{"template": map[string]any{"templateId": fmt.Sprintf("Template-%04d", 2+i), "machineCount": 1}}, nil
			}},
		{"getReturnRequests, 1,000 hosts", "getReturnRequests", 0, 0,
			func(context.Context, int) (any, error) { return map[string]any{"machines": hosts}, nil }},
		{"requestReturnMachines, 10 machines", "requestReturnMachines", 0, 0,
			func(_ context.Context, i int) (any, error) {
				return map[string]any{"machines": hosts[10*i : 10*i+10]}, nil
			}},
	}
	rows := []row{floor}
	for _, s := range steps {
		r, err := b.measure(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rows = append(rows, r)
	}
	report(fmt.Sprintf("Whole process, through the scripts, %d runs each, sandbox on loopback, SQLite store (medians)", runs), "AWS calls", median(floor.wall), rows)
	dynamoDB, err := dynamoRows(ctx, bin, runs)
	if err != nil {
		return err
	}
	report("The same with DynamoDB Local as the store; calls are DynamoDB read calls (target: 1 per 100 machines)", "DDB reads", median(floor.wall), dynamoDB)
	return races(ctx, bin, rounds)
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

// rssMarker starts the line /usr/bin/time adds to a script's standard
// error. The kernel's own accounting of a child started from this large
// process would count this process's memory too (the child shares it
// until exec); GNU time forks from a small process and measures only its
// child.
const rssMarker = "ohfp-bench-max-rss-kib="

var timeWrapper = []string{"/usr/bin/time", "-f", rssMarker + "%M"}

func peakRSS(stderr []byte) (int64, error) {
	_, after, ok := bytes.Cut(stderr, []byte(rssMarker))
	if !ok {
		return 0, fmt.Errorf("no peak memory from /usr/bin/time in %q", stderr)
	}
	kib, err := strconv.ParseInt(string(bytes.TrimSpace(after)), 10, 64)
	return kib << 10, err
}

func statusInput(id string) any {
	return map[string]any{"requests": []map[string]string{{"requestId": id}}}
}

func (b *bench) measure(ctx context.Context, s step) (row, error) {
	r := row{step: s}
	var calls int64
	for i := range b.runs {
		input, err := s.prepare(ctx, i)
		if err != nil {
			return r, err
		}
		b.sb.ResetCalls()
		res, err := b.host.Call(ctx, s.op, input)
		if err != nil {
			return r, err
		}
		if res.Exit != 0 {
			return r, fmt.Errorf("%s exited %d: %s", s.op, res.Exit, res.Stdout)
		}
		for _, n := range b.sb.Calls() {
			calls += n
		}
		r.wall = append(r.wall, res.Duration)
		r.cpu = append(r.cpu, res.CPU)
		rss, err := peakRSS(res.Stderr)
		if err != nil {
			return r, fmt.Errorf("%s: %w", s.op, err)
		}
		r.rss = max(r.rss, rss)
	}
	r.calls = float64(calls) / float64(b.runs)
	return r, nil
}

// processFloor is what starting the binary costs before any work: the
// line every operation stands on.
func (b *bench) processFloor(bin string) (row, error) {
	r := row{step: step{name: "process start (ohfp --version)"}}
	for range b.runs {
		cmd := exec.Command(bin, "--version")
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return r, err
		}
		r.wall = append(r.wall, time.Since(start))
		r.cpu = append(r.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	return r, nil
}

// report prints rows; "x start" is the median wall time over the process
// start's, a ratio that holds on a noisy machine where absolute times drift.
func report(title, calls string, floor time.Duration, rows []row) {
	fmt.Printf("\n%s\n\n", title)
	fmt.Printf("%-62s %9s %8s %9s %9s %9s %9s  %s\n", "operation", "wall", "x start", "p90 wall", "CPU", "peak RSS", calls, "targets")
	fmt.Println(strings.Repeat("-", 140))
	for _, r := range rows {
		wall, cpu := median(r.wall), median(r.cpu)
		verdict := ""
		if r.target > 0 {
			verdict = fmt.Sprintf("wall < %s: %s", r.target, yes(wall < r.target))
		}
		if r.maxCalls > 0 {
			verdict += fmt.Sprintf("; %s <= %g: %s", calls, r.maxCalls, yes(r.calls <= r.maxCalls))
		}
		rss := "-"
		if r.rss > 0 {
			rss = fmt.Sprintf("%.1fMiB", float64(r.rss)/(1<<20))
			verdict += fmt.Sprintf("; RSS < 40MiB: %s", yes(r.rss < 40<<20))
		}
		fmt.Printf("%-62s %9s %8.1f %9s %9s %9s %9.1f  %s\n", r.name, ms(wall), float64(wall)/float64(floor), ms(percentile(r.wall, 90)), ms(cpu), rss, r.calls, strings.TrimPrefix(verdict, "; "))
	}
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)]
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
