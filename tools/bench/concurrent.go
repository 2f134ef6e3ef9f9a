package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/ohfp/ohfp/internal/hostfactory"
)

// busyError is what a store says when a lock could not be had in time:
// SQLite's SQLITE_BUSY ("database is locked"), DynamoDB's throttling.
var busyError = regexp.MustCompile(`(?i)SQLITE_BUSY|database is locked|database table is locked|ThrottlingException|ProvisionedThroughputExceeded`)

// concurrent measures 100 getRequestStatus processes started at once on
// one 10,000-machine request once it is complete, against the median of
// the same poll run alone; with comingUp, first at the moment its machines
// come up (every process sees the change and writes it: what would make a
// store busy).
func (b *bench) concurrent(ctx context.Context, store, template string, comingUp bool) ([]row, error) {
	id, err := b.host.RequestMachines(ctx, template, bigRequest)
	if err != nil {
		return nil, err
	}
	if _, err := b.host.Status(ctx, id); err != nil {
		return nil, err
	}
	b.sb.Advance(pendingDelay)
	check := wantStatus(bigRequest, "complete")
	var rows []row
	if comingUp {
		up, err := b.together(ctx, fmt.Sprintf("%d at once as its machines come up, %s", callers, store), id, func(res hostfactory.Result) error {
			if err := check(res); err != nil {
				return wantStatus(bigRequest, "running")(res)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		up.targets = []target{noBusy(), memory(64)}
		rows = append(rows, up)
	} else if _, err := b.host.Status(ctx, id); err != nil {
		return nil, err
	}
	alone, err := b.measure(ctx, step{name: "getRequestStatus, 10,000 machines complete, " + store, op: "getRequestStatus",
		runs: 10, targets: []target{startTimes(4), memory(40)}, after: check,
		prepare: func(context.Context, int) (any, error) { return statusInput(id), nil }})
	if err != nil {
		return nil, err
	}
	done, err := b.together(ctx, fmt.Sprintf("%d at once, complete, %s", callers, store), id, check)
	if err != nil {
		return nil, err
	}
	done.targets = []target{noBusy(), p99Within(10, median(alone.wall)), memory(64)}
	return append([]row{alone}, append(rows, done)...), nil
}

// together starts callers getRequestStatus processes on id at once, and
// gathers their times; the row's detail counts busy errors and failures.
func (b *bench) together(ctx context.Context, name, id string, check func(hostfactory.Result) error) (row, error) {
	r := row{step: step{name: name, op: "getRequestStatus"}}
	logs, err := logSize(b.host)
	if err != nil {
		return r, err
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]hostfactory.Result, callers)
		errs    = make([]error, callers)
	)
	b.sb.ResetCalls()
	b.aws.take()
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = b.host.Call(ctx, "getRequestStatus", statusInput(id))
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	busy, failed := 0, 0
	var cpu time.Duration
	for i, res := range results {
		if errs[i] != nil {
			return r, errs[i]
		}
		mu.Lock()
		r.wall = append(r.wall, res.Duration)
		r.cpu = append(r.cpu, res.CPU)
		r.aws = append(r.aws, 0)
		mu.Unlock()
		cpu += res.CPU
		if rss, err := peakRSS(res.Stderr); err == nil {
			r.rss = max(r.rss, rss)
		}
		busy += len(busyError.FindAll(res.Stderr, -1))
		if res.Exit != 0 || check(res) != nil {
			failed++
		}
	}
	newLog, err := logSince(b.host, logs)
	if err != nil {
		return r, err
	}
	busy += len(busyError.FindAll(newLog, -1))
	for _, n := range b.sb.Calls() {
		r.calls += float64(n)
	}
	r.calls /= callers
	r.busy, r.failed = busy, failed
	r.detail = fmt.Sprintf("p50 %s, p99 %s, all done in %s; busy errors %d, failed answers %d; CPU of all %s: on %d cores at least %s",
		ms(median(r.wall)), ms(percentile(r.wall, 99)), ms(took), busy, failed, ms(cpu), cores(), ms(cpu/time.Duration(cores())))
	return r, nil
}

func noBusy() target {
	return target{"no busy errors, every answer right", func(r *row, _ *table) (bool, string) {
		return r.busy == 0 && r.failed == 0, ""
	}}
}

func p99Within(k float64, alone time.Duration) target {
	return target{fmt.Sprintf("p99 <= %g x alone (%s)", k, ms(alone)), func(r *row, _ *table) (bool, string) {
		return float64(percentile(r.wall, 99)) <= k*float64(alone), ""
	}}
}

// logPath is the provider instance's log file.
func logPath(h *hostfactory.Host) string {
	for _, kv := range h.Env {
		if v, ok := bytes.CutPrefix([]byte(kv), []byte("HF_PROVIDER_LOGDIR=")); ok {
			return filepath.Join(string(v), "ohfp.log")
		}
	}
	return ""
}

func logSize(h *hostfactory.Host) (int64, error) {
	fi, err := os.Stat(logPath(h))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// logSince reads what the log gained since it was size bytes long.
func logSince(h *hostfactory.Host, size int64) ([]byte, error) {
	b, err := os.ReadFile(logPath(h))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil || int64(len(b)) < size {
		return b, err // rotated: all of it
	}
	return b[size:], nil
}
