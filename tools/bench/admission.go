package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ohfp/ohfp/internal/hostfactory"
	"github.com/ohfp/ohfp/internal/sandbox"
)

// The admission race of TestMaxNumberExactAcrossHosts (test/e2e), repeated:
// two hosts on one table prefix, maxNumber 20 with 2 machines held, 30
// single-machine requests at once through the scripts.
const (
	raceMaxNumber = 20
	raceHeld      = 2
	raceRequests  = 30
)

// raceResult is what the rounds of the admission race found.
type raceResult struct {
	rounds             int
	wrong              int // admissions off the exact answer, summed over rounds
	minGrant, maxGrant int
	aliveOff           int // rounds that did not end with maxNumber alive
	took               time.Duration
}

// admissionRace runs rounds of the race against the DynamoDB API at
// endpoint, each on fresh tables and a fresh sandbox.
func admissionRace(ctx context.Context, bin, endpoint string, rounds int) (raceResult, error) {
	res := raceResult{rounds: rounds, minGrant: raceRequests}
	start := time.Now()
	for round := range rounds {
		granted, alive, err := raceRound(ctx, bin, endpoint, round)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", round, err)
		}
		want := raceMaxNumber - raceHeld
		res.wrong += max(granted-want, want-granted)
		res.minGrant, res.maxGrant = min(res.minGrant, granted), max(res.maxGrant, granted)
		if alive != raceMaxNumber {
			res.aliveOff++
		}
	}
	res.took = time.Since(start)
	return res, nil
}

// raceRound plays one round and returns how many requests were granted
// and how many machines were alive after.
func raceRound(ctx context.Context, bin, endpoint string, round int) (granted, alive int, err error) {
	root, err := os.MkdirTemp("", "ohfp-bench-race-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(root)
	sb := sandbox.New(sandbox.Options{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	var hosts []*hostfactory.Host
	install := uuid.NewString() // one installation on two hosts
	for h := range 2 {
		host, err := hostfactory.Provider{
			Name: "awsinst", ScriptDir: "scripts", Binary: bin, InstallationID: install,
			Config: map[string]any{
				"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": srv.URL,
				"OHFP_STORAGE": "dynamodb", "OHFP_DYNAMODB_ENDPOINT_URL": endpoint,
				"OHFP_DYNAMODB_TABLE_PREFIX": fmt.Sprintf("ohfp-race-%d-%d", os.Getpid(), round),
			},
			Templates: map[string]any{"templates": []map[string]any{{
				"templateId": "T", "maxNumber": raceMaxNumber,
				"imageId": sandbox.DefaultImageID, "vmType": "t3.micro", "subnetId": sandbox.DefaultSubnetIDs[0],
			}}},
		}.Install(filepath.Join(root, fmt.Sprint(h)))
		if err != nil {
			return 0, 0, err
		}
		hosts = append(hosts, host)
	}
	initStore := exec.CommandContext(ctx, bin, "store", "init")
	initStore.Env = hosts[0].Env
	if out, err := initStore.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("ohfp store init: %w\n%s", err, out)
	}
	// 2 held: 3 launched, 1 returned by the other host.
	id, err := hosts[0].RequestMachines(ctx, "T", raceHeld+1)
	if err != nil {
		return 0, 0, err
	}
	first, err := hosts[0].Wait(ctx, id, 50*time.Millisecond)
	if err != nil {
		return 0, 0, err
	}
	ret, err := hosts[1].ReturnMachines(ctx, hostfactory.Hosts(first.Machines[:1]))
	if err != nil {
		return 0, 0, err
	}
	if _, err := hosts[1].Wait(ctx, ret, 50*time.Millisecond); err != nil {
		return 0, 0, err
	}

	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		errs  []error
		start = make(chan struct{})
	)
	for i := range raceRequests {
		wg.Go(func() {
			<-start
			_, err := hosts[i%2].RequestMachines(ctx, "T", 1)
			mu.Lock()
			defer mu.Unlock()
			var f *hostfactory.Failure
			switch {
			case err == nil:
				granted++
			case errors.As(err, &f) && f.Result.Exit == 3 && strings.Contains(string(f.Result.Stdout), "QUOTA_EXCEEDED"):
			default:
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		return 0, 0, errors.Join(errs...)
	}
	for _, in := range sb.Instances() {
		if in.State == "pending" || in.State == "running" {
			alive++
		}
	}
	return granted, alive, nil
}

func (r raceResult) report(implementation string) {
	fmt.Printf("\nAdmission race on %s: 2 hosts, maxNumber %d with %d held, %d requests at once through the scripts\n",
		implementation, raceMaxNumber, raceHeld, raceRequests)
	fmt.Printf("  %d rounds in %s: wrong admissions %d (want 0); granted %d to %d (want %d); rounds not ending with %d alive: %d\n",
		r.rounds, r.took.Round(time.Second), r.wrong, r.minGrant, r.maxGrant, raceMaxNumber-raceHeld, raceMaxNumber, r.aliveOff)
}
