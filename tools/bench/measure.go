package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
)

// step is one measured operation.
type step struct {
	name string
	op   string
	runs int // 0: the bench's runs
	// prepare (untimed) returns each run's input; after (untimed) checks
	// each run's answer.
	prepare func(ctx context.Context, i int) (any, error)
	after   func(hostfactory.Result) error
	targets []target
	// settling is how many machines each run finds still settling: what
	// the AWS calls of a poll are judged against.
	settling int
}

// row is what a step measured.
type row struct {
	step
	wall, cpu, aws []time.Duration // aws: time with an AWS call in flight
	rss            int64
	calls          float64 // AWS calls per run
	detail         string  // a line under the row
	busy, failed   int     // concurrent rows: busy errors and wrong answers
}

// target is one of issue 13's targets, judged on a row within its table.
type target struct {
	what  string
	judge func(r *row, t *table) (ok bool, skip string)
}

// issueStart is the process start on the machine where issue 13 set its
// absolute targets: absolute times are judged as that many process starts
// of this run, since the machine is shared and times drift together.
const issueStart = 6 * time.Millisecond

func startTimes(k float64) target {
	return target{fmt.Sprintf("<= %g x start", k), func(r *row, t *table) (bool, string) {
		return float64(median(r.wall)) <= k*float64(median(t.floor.wall)), ""
	}}
}

// wallAtMost judges a median against d on the issue's machine.
func wallAtMost(d time.Duration) target {
	k := float64(d) / float64(issueStart)
	return target{fmt.Sprintf("<= %s (%.0f x start)", d, k), func(r *row, t *table) (bool, string) {
		return float64(median(r.wall)) <= k*float64(median(t.floor.wall)), ""
	}}
}

// beyondAWS judges the plugin's own time, the median of wall time minus
// the time an AWS call was in flight, against d on the issue's machine.
func beyondAWS(d time.Duration) target {
	k := float64(d) / float64(issueStart)
	return target{fmt.Sprintf("plugin time <= %s (%.0f x start)", d, k), func(r *row, t *table) (bool, string) {
		return float64(median(own(r))) <= k*float64(median(t.floor.wall)), ""
	}}
}

func beyondAWSStarts(k float64) target {
	return target{fmt.Sprintf("plugin time <= %g x start", k), func(r *row, t *table) (bool, string) {
		return float64(median(own(r))) <= k*float64(median(t.floor.wall)), ""
	}}
}

func pythonTimes(k float64) target {
	return target{fmt.Sprintf(">= %g x faster than Python", k), func(r *row, t *table) (bool, string) {
		if t.python == nil {
			return false, "no Python floor"
		}
		return float64(median(t.python.wall)) >= k*float64(median(r.wall)), ""
	}}
}

func memory(mib int64) target {
	return target{fmt.Sprintf("RSS <= %d MiB", mib), func(r *row, _ *table) (bool, string) {
		return r.rss <= mib<<20, ""
	}}
}

// awsCallsPerSettling: at most one call per `per` machines settling, plus
// the fleets.
func awsCallsPerSettling(per, fleets int) target {
	return target{fmt.Sprintf("AWS calls <= ceil(settling/%d)+%d", per, fleets), func(r *row, _ *table) (bool, string) {
		return r.calls <= math.Ceil(float64(r.settling)/float64(per))+float64(fleets), ""
	}}
}

// own is each run's wall time without the time an AWS call was in flight.
func own(r *row) []time.Duration {
	out := make([]time.Duration, len(r.wall))
	for i := range r.wall {
		out[i] = r.wall[i] - r.aws[i]
	}
	return out
}

// awsClock serves the sandbox and keeps the time during which at least one
// AWS call was in flight: the part of an operation's wall time that is
// the cloud's.
type awsClock struct {
	h        http.Handler
	mu       sync.Mutex
	inFlight int
	since    time.Time
	busy     time.Duration
}

func (c *awsClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.inFlight == 0 {
		c.since = time.Now()
	}
	c.inFlight++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		if c.inFlight == 0 {
			c.busy += time.Since(c.since)
		}
		c.mu.Unlock()
	}()
	c.h.ServeHTTP(w, r)
}

// take returns the busy time so far and starts again from zero.
func (c *awsClock) take() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.busy
	c.busy = 0
	return d
}

// measure runs one step.
func (b *bench) measure(ctx context.Context, s step) (row, error) {
	rows, err := b.cycle(ctx, cmp.Or(s.runs, b.runs), []step{s})
	if err != nil {
		return row{}, err
	}
	return rows[0], nil
}

// cycle runs steps in turn, runs times: a run of one step may prepare the
// next one's input.
func (b *bench) cycle(ctx context.Context, runs int, steps []step) ([]row, error) {
	rows := make([]row, len(steps))
	calls := make([]int64, len(steps))
	for i := range steps {
		rows[i].step = steps[i]
	}
	for run := range runs {
		for i, s := range steps {
			input, err := s.prepare(ctx, run)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			b.sb.ResetCalls()
			b.aws.take()
			res, err := b.host.Call(ctx, s.op, input)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			if res.Exit != 0 {
				return nil, fmt.Errorf("%s: %s exited %d: %.500s", s.name, s.op, res.Exit, res.Stdout)
			}
			aws := b.aws.take()
			for _, n := range b.sb.Calls() {
				calls[i] += n
			}
			if s.after != nil {
				if err := s.after(res); err != nil {
					return nil, fmt.Errorf("%s: %w", s.name, err)
				}
			}
			r := &rows[i]
			r.wall = append(r.wall, res.Duration)
			r.cpu = append(r.cpu, res.CPU)
			r.aws = append(r.aws, aws)
			rss, err := peakRSS(res.Stderr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.op, err)
			}
			r.rss = max(r.rss, rss)
		}
	}
	for i := range rows {
		rows[i].calls = float64(calls[i]) / float64(runs)
	}
	return rows, nil
}

// rssMarker starts the line /usr/bin/time adds to a process's standard
// error. The kernel's own accounting of a child started from this large
// process would count this process's memory too (the child shares it
// until exec); GNU time forks from a small process and measures only its
// child.
const rssMarker = "ohfp-bench-max-rss-kib="

var timeWrapper = []string{"/usr/bin/time", "-f", rssMarker + "%M"}

func peakRSS(stderr []byte) (int64, error) {
	i := bytes.LastIndex(stderr, []byte(rssMarker))
	if i < 0 {
		return 0, fmt.Errorf("no peak memory from /usr/bin/time in %.500q", stderr)
	}
	kib, err := strconv.ParseInt(string(bytes.TrimSpace(stderr[i+len(rssMarker):])), 10, 64)
	return kib << 10, err
}

// command runs argv under /usr/bin/time as a measured process.
func command(argv, env []string) (wall, cpu time.Duration, rss int64, err error) {
	cmd := exec.Command(timeWrapper[0], append(slices.Clone(timeWrapper[1:]), argv...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, stderr.Bytes())
	}
	wall = time.Since(start)
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rss, err = peakRSS(stderr.Bytes())
	return wall, cpu, rss, err
}

// processFloor is what starting the binary costs before any work, started
// as the scripts start it (a shell that execs it, under /usr/bin/time):
// the line every operation stands on.
func (b *bench) processFloor() (row, error) {
	r := row{step: step{name: "process start (ohfp --version), the floor"}}
	for range b.runs {
		wall, cpu, rss, err := command([]string{"/bin/sh", "-c", `exec "$0" --version >/dev/null`, b.bin}, b.host.Env)
		if err != nil {
			return r, err
		}
		r.wall, r.cpu = append(r.wall, wall), append(r.cpu, cpu)
		r.rss = max(r.rss, rss)
	}
	return r, nil
}

// pythonFloor is the bare floor of a Python plugin: python3 importing
// boto3 and making an EC2 client, nothing else. It says why it is skipped
// when no python3 with boto3 is found.
func (b *bench) pythonFloor(ctx context.Context) (*row, string) {
	var python string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.CommandContext(ctx, p, "-c", "import boto3").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		return nil, "no python3 with boto3 (Debian's python3-boto3 or pip install boto3 provides it)"
	}
	r := &row{step: step{name: "Python floor: python3 + boto3 + an EC2 client"}}
	env := append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	for range min(b.runs, 10) {
		wall, cpu, rss, err := command([]string{python, "-c", "import boto3; boto3.client('ec2', region_name='us-east-1')"}, env)
		if err != nil {
			return nil, err.Error()
		}
		r.wall, r.cpu = append(r.wall, wall), append(r.cpu, cpu)
		r.rss = max(r.rss, rss)
	}
	return r, ""
}

// table is one printed table of rows.
type table struct {
	title  string
	floor  row
	python *row
	rows   []row
	notes  []string
}

func (t *table) add(rows ...row) { t.rows = append(t.rows, rows...) }
func (t *table) note(s string)   { t.notes = append(t.notes, s) }

// print prints the rows; "x start" is the median wall time over the
// process start's, a ratio that holds on a noisy machine where absolute
// times drift.
func (t *table) print() {
	printed = append(printed, t)
	fmt.Printf("\n%s\n\n", t.title)
	fmt.Printf("%-58s %9s %7s %9s %9s %9s %9s %6s  %s\n", "operation", "wall", "x start", "p90 wall", "CPU", "AWS time", "peak RSS", "AWS", "targets")
	fmt.Println(strings.Repeat("-", 170))
	floor := median(t.floor.wall)
	for i := range t.rows {
		r := &t.rows[i]
		wall := median(r.wall)
		awsTime := "-"
		if len(r.aws) > 0 {
			awsTime = ms(median(r.aws))
		}
		fmt.Printf("%-58s %9s %7.1f %9s %9s %9s %9s %6s  %s\n", r.name, ms(wall), float64(wall)/float64(floor),
			ms(percentile(r.wall, 90)), ms(median(r.cpu)), awsTime, rssText(r), callsText(r), strings.Join(verdicts(r, t), "; "))
		if r.detail != "" {
			fmt.Printf("    %s\n", r.detail)
		}
	}
	for _, n := range t.notes {
		fmt.Printf("  %s\n", n)
	}
}

// verdicts are the row's targets, each with its yes, NO or why skipped.
func verdicts(r *row, t *table) []string {
	var out []string
	for _, tg := range r.targets {
		ok, skip := tg.judge(r, t)
		v := yes(ok)
		if skip != "" {
			v = "skipped (" + skip + ")"
		}
		out = append(out, tg.what+": "+v)
	}
	return out
}

func rssText(r *row) string {
	if r.rss == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(r.rss)/(1<<20))
}

func callsText(r *row) string {
	if len(r.aws) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", r.calls)
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
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

func cores() int { return runtime.NumCPU() }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
