package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// control calls the control API and decodes its JSON answer into out.
func control(t *testing.T, e *env, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

func TestControlAPI(t *testing.T) {
	e := start(t, sandbox.Options{ShutdownDelay: time.Minute})
	ctx := context.Background()

	control(t, e, "POST", "/_sandbox/images", `{"id":"ami-0fromhttp","architecture":"arm64"}`, nil)
	control(t, e, "POST", "/_sandbox/ssm-parameters", `{"name":"/ohfp/ami","value":"ami-0fromhttp"}`, nil)
	control(t, e, "POST", "/_sandbox/subnets", `{"id":"subnet-0http","zone":"us-east-1b","cidr":"172.16.0.0/24"}`, nil)
	control(t, e, "POST", "/_sandbox/key-pairs", `{"name":"ops"}`, nil)
	p := must(e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ohfp/ami")}))
	out := run(t, e, &ec2.RunInstancesInput{
		ImageId: p.Parameter.Value, InstanceType: "t4g.small", MinCount: aws.Int32(3), SubnetId: aws.String("subnet-0http"),
		KeyName: aws.String("ops"), TagSpecifications: tagSpec("ohfp:request-id", "req-http"),
		InstanceMarketOptions: &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot},
	})
	run(t, e, &ec2.RunInstancesInput{TagSpecifications: tagSpec("ohfp:request-id", "other")})

	var listed []sandbox.Instance
	control(t, e, "GET", "/_sandbox/instances?tag="+url.QueryEscape("ohfp:request-id=req-http"), "", &listed)
	if len(listed) != 3 || listed[0].Type != "t4g.small" || !listed[0].Spot || listed[0].State != sandbox.StateRunning || listed[0].PrivateIP[:7] != "172.16." {
		t.Fatalf("instances by tag = %+v", listed)
	}
	control(t, e, "GET", "/_sandbox/instances", "", &listed)
	if len(listed) != 4 {
		t.Fatalf("%d instances, want 4", len(listed))
	}

	var calls map[string]int64
	control(t, e, "GET", "/_sandbox/calls", "", &calls)
	if calls["ec2:RunInstances"] != 2 || calls["ssm:GetParameter"] != 1 {
		t.Fatalf("calls = %v", calls)
	}
	control(t, e, "DELETE", "/_sandbox/calls", "", nil)
	if len(e.sb.Calls()) != 0 {
		t.Fatalf("calls after reset = %v", e.sb.Calls())
	}

	// Interrupt, then move sandbox time past the notice and the shutdown.
	control(t, e, "POST", "/_sandbox/interrupt", `{"instanceIds":["`+aws.ToString(out.Instances[0].InstanceId)+`"]}`, nil)
	control(t, e, "POST", "/_sandbox/clock", `{"advance":"2m"}`, nil)
	control(t, e, "POST", "/_sandbox/clock", `{"advance":60}`, nil)
	got := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(out.Instances[0].InstanceId)}})
	if got[0].State.Name != types.InstanceStateNameTerminated {
		t.Fatalf("interrupted instance is %s after notice and shutdown", got[0].State.Name)
	}

	control(t, e, "POST", "/_sandbox/quotas", `{"instances":7,"spotVcpus":4}`, nil)
	var quotas sandbox.Quotas
	control(t, e, "GET", "/_sandbox/quotas", "", &quotas)
	if quotas != (sandbox.Quotas{Instances: 7, SpotVCPUs: 4}) {
		t.Fatalf("quotas = %+v", quotas)
	}
	control(t, e, "POST", "/_sandbox/quotas", `{}`, nil)
	kept := run(t, e, &ec2.RunInstancesInput{}).Instances
	control(t, e, "POST", "/_sandbox/protect", `{"instanceIds":["`+aws.ToString(kept[0].InstanceId)+`"]}`, nil)
	_, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids(kept)})
	wantCode(t, err, "OperationNotPermitted")

	control(t, e, "POST", "/_sandbox/faults", `{"action":"ec2:DescribeInstances","code":"RequestLimitExceeded","count":1}`, nil)
	var faults []map[string]any
	control(t, e, "GET", "/_sandbox/faults", "", &faults)
	if len(faults) != 1 || faults[0]["code"] != "RequestLimitExceeded" {
		t.Fatalf("faults = %v", faults)
	}
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantCode(t, err, "RequestLimitExceeded")
	control(t, e, "POST", "/_sandbox/faults", `{"action":"ec2:TerminateInstances","code":"UnauthorizedOperation"}`, nil)
	control(t, e, "DELETE", "/_sandbox/faults", "", nil)
	if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids(out.Instances[1:2])}); err != nil {
		t.Fatalf("cleared fault still fires: %v", err)
	}

	control(t, e, "POST", "/_sandbox/capacity", `{"instanceType":"m5.large","remaining":0}`, nil)
	_, err = e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantCode(t, err, "InsufficientInstanceCapacity")
	control(t, e, "DELETE", "/_sandbox/capacity", "", nil)
	run(t, e, &ec2.RunInstancesInput{})

	// Pause over HTTP: the call is applied, then held until released.
	control(t, e, "POST", "/_sandbox/pause", `{"action":"ec2:TerminateInstances","at":"after"}`, nil)
	done := make(chan error, 1)
	go func() {
		_, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids(out.Instances[2:3])})
		done <- err
	}()
	// Polls until the call's goroutine reaches the pause, as a client of
	// the control API can only do; no time has to pass.
	for {
		var pauses []struct {
			Action, At string
			Waiting    int
		}
		control(t, e, "GET", "/_sandbox/pause", "", &pauses)
		if len(pauses) == 1 && pauses[0].Waiting == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if s := e.sb.InstancesWithTag("ohfp:request-id", "req-http")[2].State; s != sandbox.StateShuttingDown {
		t.Fatalf("paused terminate not applied: %s", s)
	}
	control(t, e, "DELETE", "/_sandbox/pause", "", nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct{ path, body string }{
		{"/_sandbox/faults", `{"action":"ec2:Nope","code":"X"}`},
		{"/_sandbox/faults", `{"action":"ec2:RunInstances","rate":2}`},
		{"/_sandbox/pause", `{"action":"ec2:RunInstances","at":"during"}`},
		{"/_sandbox/images", `{"id":"not-an-ami"}`},
		{"/_sandbox/capacity", `{"instanceTyp":"m5.large"}`},
	} {
		resp, err := http.Post(e.url+bad.path, "application/json", strings.NewReader(bad.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %s: status %d, want 400", bad.path, bad.body, resp.StatusCode)
		}
	}
}

func TestUnknownActionAnswersInvalidAction(t *testing.T) {
	e := start(t, sandbox.Options{})
	resp, err := http.PostForm(e.url, url.Values{"Action": {"LaunchRockets"}, "Version": {"2016-11-15"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidAction</Code>") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestServe(t *testing.T) {
	client, stop := serve(t, sandbox.New(sandbox.Options{}))
	if _, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	stop()
}

// TestConcurrentLaunchesAndDescribes is meant for -race: many clients
// launching, tagging, describing and terminating at once.
func TestConcurrentLaunchesAndDescribes(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	if err := e.sb.SetCapacity("m5.large", "", 150); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				out, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
					ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large",
					MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
					TagSpecifications: tagSpec("worker", string(rune('a'+w))),
				})
				if err != nil {
					errs <- err
					continue
				}
				id := aws.ToString(out.Instances[0].InstanceId)
				if _, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("round"), Value: aws.String(string(rune('0' + r)))}}}); err != nil {
					errs <- err
				}
				if _, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{tagFilter("worker", string(rune('a'+w)))}}); err != nil {
					errs <- err
				}
				if r%2 == 0 {
					if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
						errs <- err
					}
				}
				e.sb.Instances()
			}
		})
	}
	wg.Wait()
	close(errs)
	capacityErrors := 0
	for err := range errs {
		if apiCode(err) != "InsufficientInstanceCapacity" {
			t.Fatal(err)
		}
		capacityErrors++
	}
	all := e.sb.Instances()
	if len(all) != 150 || capacityErrors != workers*rounds-150 {
		t.Fatalf("%d instances and %d capacity errors, want 150 and %d", len(all), capacityErrors, workers*rounds-150)
	}
	seen := map[string]bool{}
	for _, in := range all {
		if seen[in.PrivateIP] {
			t.Fatalf("private IP %s handed out twice", in.PrivateIP)
		}
		seen[in.PrivateIP] = true
	}
}

// serve runs sb.Serve until the test's cleanup, returning an EC2 client.
func serve(t *testing.T, sb *sandbox.Sandbox) (client *ec2.Client, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- sb.Serve(ctx, "127.0.0.1:0", func(u string) { urls <- u }) }()
	select {
	case u := <-urls:
		client = ec2.NewFromConfig(awsConfig(), func(o *ec2.Options) { o.BaseEndpoint = aws.String(u) })
	case err := <-done:
		t.Fatal(err)
	}
	return client, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	}
}

func TestStateFileSurvivesRestart(t *testing.T) {
	path := t.TempDir() + "/sandbox.json"
	ctx := context.Background()
	opts := sandbox.Options{StateFile: path, ShutdownDelay: time.Hour}
	launch := &ec2.RunInstancesInput{
		ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "c5.large", MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		ClientToken: aws.String("tok-1"), TagSpecifications: tagSpec("ohfp:request-id", "req-p"),
		InstanceMarketOptions: &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot},
	}

	first := sandbox.New(opts)
	client, stop := serve(t, first)
	out := must(client.RunInstances(ctx, launch))
	must(client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids(out.Instances[1:])}))
	noErr(t, first.RegisterImage(sandbox.Image{ID: "ami-0kept"}))
	stop()

	second := sandbox.New(opts)
	client, stop = serve(t, second)
	defer stop()
	got := must(client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids(out.Instances)}))
	insts := got.Reservations[0].Instances
	if len(insts) != 2 || insts[0].State.Name != types.InstanceStateNameRunning || insts[1].State.Name != types.InstanceStateNameShuttingDown ||
		tagValue(insts[0].Tags, "ohfp:request-id") != "req-p" || aws.ToString(insts[0].PrivateIpAddress) != aws.ToString(out.Instances[0].PrivateIpAddress) {
		t.Fatalf("after restart: %+v", insts)
	}
	again := must(client.RunInstances(ctx, launch))
	if aws.ToString(again.ReservationId) != aws.ToString(out.ReservationId) {
		t.Fatalf("ClientToken forgotten across restart: %s vs %s", aws.ToString(again.ReservationId), aws.ToString(out.ReservationId))
	}
	spot := must(client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{aws.ToString(out.Instances[0].SpotInstanceRequestId)}}))
	if len(spot.SpotInstanceRequests) != 1 {
		t.Fatalf("spot request lost: %+v", spot)
	}
	fresh := must(client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0kept"), InstanceType: "c5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}))
	if id := aws.ToString(fresh.Instances[0].InstanceId); id == aws.ToString(out.Instances[0].InstanceId) || id == aws.ToString(out.Instances[1].InstanceId) {
		t.Fatalf("instance id %s reused", id)
	}
	if ip := aws.ToString(fresh.Instances[0].PrivateIpAddress); ip == aws.ToString(out.Instances[0].PrivateIpAddress) {
		t.Fatalf("private IP %s handed out again", ip)
	}
}
