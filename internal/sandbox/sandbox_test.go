package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// env is a sandbox served on 127.0.0.1 and SDK clients pointed at it.
type env struct {
	sb  *sandbox.Sandbox
	url string
	ec2 *ec2.Client
	ssm *ssm.Client
}

// awsConfig is what the plugin's clients get: static credentials, a region,
// the request body guard of internal/cloud/aws, and no retries so errors
// surface at once.
func awsConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "secret", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  bodyGuard{awshttp.NewBuildableClient()},
	}
}

// bodyGuard hides WriteTo from request bodies, as internal/cloud/aws does:
// smithy-go closes a body while net/http may still read it, and its WriteTo
// then fails the connection under the response (aws/aws-sdk-go-v2#2737),
// which a local endpoint hits often. Without it these tests would be flaky
// for a client-side reason.
type bodyGuard struct{ next aws.HTTPClient }

func (c bodyGuard) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.next.Do(req)
}

func start(t testing.TB, opts sandbox.Options) *env {
	t.Helper()
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sb.Release("") })
	cfg := awsConfig()
	return &env{
		sb:  sb,
		url: srv.URL,
		ec2: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) }),
		ssm: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL) }),
	}
}

// apiCode is the AWS error code err carries, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

// must unwraps an SDK answer; a failed call panics, which fails the test
// with the error and its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, e *env, in *ec2.RunInstancesInput) *ec2.RunInstancesOutput {
	t.Helper()
	if in.ImageId == nil {
		in.ImageId = aws.String(sandbox.DefaultImageID)
	}
	if in.InstanceType == "" {
		in.InstanceType = types.InstanceTypeM5Large
	}
	if in.MinCount == nil {
		in.MinCount = aws.Int32(1)
	}
	if in.MaxCount == nil {
		in.MaxCount = in.MinCount
	}
	return must(e.ec2.RunInstances(context.Background(), in))
}

func ids(insts []types.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = aws.ToString(in.InstanceId)
	}
	return out
}

// describe returns the instances of every reservation of the answer.
func describe(t *testing.T, e *env, in *ec2.DescribeInstancesInput) []types.Instance {
	t.Helper()
	out := must(e.ec2.DescribeInstances(context.Background(), in))
	var all []types.Instance
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	return all
}

func tagFilter(key string, values ...string) types.Filter {
	return types.Filter{Name: aws.String("tag:" + key), Values: values}
}

func tagSpec(kv ...string) []types.TagSpecification {
	var tags []types.Tag
	for i := 0; i < len(kv); i += 2 {
		tags = append(tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}}
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func TestLaunchDescribeTerminateLifecycle(t *testing.T) {
	e := start(t, sandbox.Options{PendingDelay: 10 * time.Second, ShutdownDelay: 5 * time.Second})
	ctx := context.Background()
	out := run(t, e, &ec2.RunInstancesInput{
		MinCount:          aws.Int32(2),
		MaxCount:          aws.Int32(2),
		SubnetId:          aws.String(sandbox.DefaultSubnetIDs[1]),
		KeyName:           aws.String(sandbox.DefaultKeyName),
		TagSpecifications: tagSpec("ohfp:request-id", "req-1", "Name", "a<b&c"),
	})
	if !strings.HasPrefix(aws.ToString(out.ReservationId), "r-") || aws.ToString(out.OwnerId) != sandbox.DefaultAccountID {
		t.Fatalf("reservation %q owner %q", aws.ToString(out.ReservationId), aws.ToString(out.OwnerId))
	}
	if len(out.Instances) != 2 {
		t.Fatalf("launched %d instances, want 2", len(out.Instances))
	}
	for _, in := range out.Instances {
		ip := aws.ToString(in.PrivateIpAddress)
		if !strings.HasPrefix(ip, "10.0.64.") {
			t.Errorf("private IP %q not from subnet b's 10.0.64.0/18", ip)
		}
		if want := "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal"; aws.ToString(in.PrivateDnsName) != want {
			t.Errorf("private DNS %q, want %q", aws.ToString(in.PrivateDnsName), want)
		}
		if in.State.Name != types.InstanceStateNamePending || aws.ToInt32(in.State.Code) != 0 {
			t.Errorf("state %v/%d, want pending/0", in.State.Name, aws.ToInt32(in.State.Code))
		}
		if aws.ToString(in.Placement.AvailabilityZone) != "us-east-1b" || aws.ToString(in.SubnetId) != sandbox.DefaultSubnetIDs[1] {
			t.Errorf("placement %q subnet %q", aws.ToString(in.Placement.AvailabilityZone), aws.ToString(in.SubnetId))
		}
		if tagValue(in.Tags, "ohfp:request-id") != "req-1" || tagValue(in.Tags, "Name") != "a<b&c" {
			t.Errorf("tags %v", in.Tags)
		}
		if in.LaunchTime == nil || time.Since(*in.LaunchTime) > time.Minute || in.InstanceType != types.InstanceTypeM5Large {
			t.Errorf("launch time %v type %v", in.LaunchTime, in.InstanceType)
		}
		if in.InstanceLifecycle != "" || in.SpotInstanceRequestId != nil {
			t.Errorf("on-demand instance looks spot: %v %v", in.InstanceLifecycle, in.SpotInstanceRequestId)
		}
	}

	e.sb.Advance(10 * time.Second)
	got := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: ids(out.Instances)})
	if len(got) != 2 || got[0].State.Name != types.InstanceStateNameRunning || aws.ToInt32(got[0].State.Code) != 16 {
		t.Fatalf("after PendingDelay: %d instances, first %v", len(got), got[0].State)
	}

	term := must(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids(out.Instances)}))
	if len(term.TerminatingInstances) != 2 {
		t.Fatalf("terminating %d", len(term.TerminatingInstances))
	}
	for _, c := range term.TerminatingInstances {
		if c.PreviousState.Name != types.InstanceStateNameRunning || c.CurrentState.Name != types.InstanceStateNameShuttingDown || aws.ToInt32(c.CurrentState.Code) != 32 {
			t.Errorf("state change %v -> %v", c.PreviousState.Name, c.CurrentState.Name)
		}
	}
	e.sb.Advance(5 * time.Second)
	got = describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{tagFilter("ohfp:request-id", "req-1")}})
	if len(got) != 2 || got[1].State.Name != types.InstanceStateNameTerminated || aws.ToInt32(got[1].State.Code) != 48 {
		t.Fatalf("after ShutdownDelay: %v", got)
	}
	if aws.ToString(got[0].StateReason.Code) != "Client.UserInitiatedShutdown" {
		t.Errorf("state reason %v", aws.ToString(got[0].StateReason.Code))
	}

	// Terminated instances drop out after an hour, like EC2.
	e.sb.Advance(time.Hour)
	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids(out.Instances)[:1]})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	if got := describe(t, e, &ec2.DescribeInstancesInput{}); len(got) != 0 {
		t.Fatalf("purged instances still listed: %v", ids(got))
	}
}

func TestUnknownIDFailsWholeCallButFilterSkipsIt(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	known := ids(run(t, e, &ec2.RunInstancesInput{}).Instances)[0]
	unknown := "i-0123456789abcdef0"

	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{known, unknown}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	if !strings.Contains(err.Error(), unknown) {
		t.Errorf("error %v does not name %s", err, unknown)
	}

	got := describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{known, unknown}}}})
	if len(got) != 1 || aws.ToString(got[0].InstanceId) != known {
		t.Fatalf("filter by id = %v, want just %s", ids(got), known)
	}

	_, err = e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{unknown}})
	wantCode(t, err, "InvalidInstanceID.NotFound")

	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("no-such-filter"), Values: []string{"x"}}}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestConsistencyDelayHidesNewInstances(t *testing.T) {
	e := start(t, sandbox.Options{ConsistencyDelay: 3 * time.Second})
	ctx := context.Background()
	id := ids(run(t, e, &ec2.RunInstancesInput{}).Instances)[0]

	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	_, err = e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	if got := e.sb.Instances(); len(got) != 1 || got[0].Visible {
		t.Fatalf("Instances() = %+v, want one invisible instance", got)
	}

	e.sb.Advance(3 * time.Second)
	if got := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}); len(got) != 1 {
		t.Fatalf("after the delay: %v", ids(got))
	}
}

func TestDescribeInstancesPaginationAndLimits(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	run(t, e, &ec2.RunInstancesInput{MinCount: aws.Int32(13), TagSpecifications: tagSpec("batch", "a")})
	run(t, e, &ec2.RunInstancesInput{MinCount: aws.Int32(10), TagSpecifications: tagSpec("batch", "b")})

	seen := map[string]bool{}
	pages := 0
	p := ec2.NewDescribeInstancesPaginator(e.ec2, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	for p.HasMorePages() {
		out := must(p.NextPage(ctx))
		pages++
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				seen[aws.ToString(in.InstanceId)] = true
			}
		}
	}
	if len(seen) != 23 || pages != 5 {
		t.Fatalf("paginated %d distinct instances in %d pages, want 23 in 5", len(seen), pages)
	}

	got := describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:batch"), Values: []string{"b"}}}})
	if len(got) != 10 {
		t.Fatalf("tag filter: %d instances, want 10", len(got))
	}
	got = describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag-key"), Values: []string{"bat*"}}}})
	if len(got) != 23 {
		t.Fatalf("wildcard tag-key filter: %d instances, want 23", len(got))
	}

	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(3)})
	wantCode(t, err, "InvalidParameterValue")

	many := make([]string, 201)
	for i := range many {
		many[i] = fmt.Sprintf("i-%017x", i)
	}
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: many}}})
	wantCode(t, err, "FilterLimitExceeded")
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: many[:200]}}})
	if err != nil {
		t.Fatalf("200 filter values must pass: %v", err)
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	in := func(count int32) *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{
			ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeC5Xlarge,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(count), ClientToken: aws.String("req-42"),
		}
	}
	first := run(t, e, in(3))
	again := run(t, e, in(3))
	if aws.ToString(again.ReservationId) != aws.ToString(first.ReservationId) || strings.Join(ids(again.Instances), ",") != strings.Join(ids(first.Instances), ",") {
		t.Fatalf("replay answered %s %v, want %s %v", aws.ToString(again.ReservationId), ids(again.Instances), aws.ToString(first.ReservationId), ids(first.Instances))
	}
	if n := len(e.sb.Instances()); n != 3 {
		t.Fatalf("%d instances after a replayed token, want 3", n)
	}
	_, err := e.ec2.RunInstances(ctx, in(4))
	wantCode(t, err, "IdempotentParameterMismatch")
	if aws.ToString(first.Instances[0].ClientToken) != "req-42" {
		t.Errorf("clientToken %q", aws.ToString(first.Instances[0].ClientToken))
	}
}

func TestCreateAndDeleteTags(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := ids(run(t, e, &ec2.RunInstancesInput{TagSpecifications: tagSpec("a", "1", "b", "2")}).Instances)[0]

	must(e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("changed")}, {Key: aws.String("c"), Value: aws.String("3")},
	}}))
	must(e.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{
		{Key: aws.String("b")}, {Key: aws.String("c"), Value: aws.String("not-3")},
	}}))
	got := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})[0].Tags
	if len(got) != 2 || tagValue(got, "a") != "changed" || tagValue(got, "c") != "3" {
		t.Fatalf("tags = %v, want a=changed c=3", got)
	}
	if snap := e.sb.InstancesWithTag("a", "changed"); len(snap) != 1 || snap[0].Tags["c"] != "3" {
		t.Fatalf("InstancesWithTag = %+v", snap)
	}

	_, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidParameterValue")
}

// TestSpotInterruption follows AWS's two sequences: for capacity (a
// terminate-on-interruption instance), the request is
// instance-terminated-no-capacity at once while the instance runs out its
// notice; for price, it is marked-for-termination during the notice and
// instance-terminated-by-price after (EC2 User Guide, Spot request status).
func TestSpotInterruption(t *testing.T) {
	for _, tc := range []struct {
		reason                string
		interrupt             func(*sandbox.Sandbox, ...string) error
		duringCode, afterCode string
		duringState           types.SpotInstanceState
	}{
		{"capacity", (*sandbox.Sandbox).Interrupt, "instance-terminated-no-capacity", "instance-terminated-no-capacity", types.SpotInstanceStateClosed},
		{"price", (*sandbox.Sandbox).InterruptForPrice, "marked-for-termination", "instance-terminated-by-price", types.SpotInstanceStateActive},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			e := start(t, sandbox.Options{SpotNotice: 2 * time.Minute})
			ctx := context.Background()
			out := run(t, e, &ec2.RunInstancesInput{
				MinCount:              aws.Int32(2),
				InstanceMarketOptions: &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot},
			})
			in := out.Instances[0]
			sir := aws.ToString(in.SpotInstanceRequestId)
			if in.InstanceLifecycle != types.InstanceLifecycleTypeSpot || !strings.HasPrefix(sir, "sir-") {
				t.Fatalf("lifecycle %q request %q", in.InstanceLifecycle, sir)
			}
			spot := func() types.SpotInstanceRequest {
				t.Helper()
				out := must(e.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}}))
				if len(out.SpotInstanceRequests) != 1 {
					t.Fatalf("%d spot requests", len(out.SpotInstanceRequests))
				}
				return out.SpotInstanceRequests[0]
			}
			if r := spot(); aws.ToString(r.Status.Code) != "fulfilled" || r.State != types.SpotInstanceStateActive || aws.ToString(r.InstanceId) != aws.ToString(in.InstanceId) {
				t.Fatalf("before interruption: %s %s %s", aws.ToString(r.Status.Code), r.State, aws.ToString(r.InstanceId))
			}

			notice := e.sb.Now()
			if err := tc.interrupt(e.sb, aws.ToString(in.InstanceId)); err != nil {
				t.Fatal(err)
			}
			if err := tc.interrupt(e.sb, aws.ToString(run(t, e, &ec2.RunInstancesInput{}).Instances[0].InstanceId)); err == nil {
				t.Fatal("interrupting an on-demand instance must fail")
			}
			if r := spot(); aws.ToString(r.Status.Code) != tc.duringCode || r.State != tc.duringState || !aws.ToTime(r.Status.UpdateTime).Equal(notice.Truncate(time.Millisecond)) {
				t.Fatalf("during the notice: %s %s at %v", aws.ToString(r.Status.Code), r.State, aws.ToTime(r.Status.UpdateTime))
			}
			if got := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(in.InstanceId)}}); got[0].State.Name != types.InstanceStateNameRunning {
				t.Fatalf("instance %s during the notice, want running", got[0].State.Name)
			}

			e.sb.Advance(2 * time.Minute)
			if r := spot(); aws.ToString(r.Status.Code) != tc.afterCode || r.State != types.SpotInstanceStateClosed {
				t.Fatalf("after the notice: %s %s", aws.ToString(r.Status.Code), r.State)
			}
			got := describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-lifecycle"), Values: []string{"spot"}}}})
			if len(got) != 2 || got[0].State.Name != types.InstanceStateNameTerminated || got[1].State.Name != types.InstanceStateNameRunning {
				t.Fatalf("spot instances after the notice: %v", got)
			}
			if aws.ToString(got[0].StateReason.Code) != "Server.SpotInstanceTermination" {
				t.Errorf("state reason %q", aws.ToString(got[0].StateReason.Code))
			}

			byInstance := must(e.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{
				Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{aws.ToString(out.Instances[1].InstanceId)}}},
			}))
			if len(byInstance.SpotInstanceRequests) != 1 || aws.ToString(byInstance.SpotInstanceRequests[0].Status.Code) != "fulfilled" {
				t.Fatalf("filter by instance-id: %+v", byInstance.SpotInstanceRequests)
			}
			_, err := e.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{"sir-nosuch00"}})
			wantCode(t, err, "InvalidSpotInstanceRequestID.NotFound")
		})
	}
}

func TestCapacityAllowsPartialLaunch(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	if err := e.sb.SetCapacity("m5.large", "", 7); err != nil {
		t.Fatal(err)
	}
	out := run(t, e, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(10)})
	if len(out.Instances) != 7 {
		t.Fatalf("launched %d, want 7", len(out.Instances))
	}
	_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeM5Large,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	wantCode(t, err, "InsufficientInstanceCapacity")

	// A zone without capacity pushes launches with no subnet to another zone.
	if err := e.sb.SetCapacity("c5.large", "us-east-1a", 0); err != nil {
		t.Fatal(err)
	}
	out = run(t, e, &ec2.RunInstancesInput{InstanceType: types.InstanceTypeC5Large})
	if z := aws.ToString(out.Instances[0].Placement.AvailabilityZone); z != "us-east-1b" {
		t.Fatalf("launched in %s, want us-east-1b", z)
	}
	_, err = e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeC5Large,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(sandbox.DefaultSubnetIDs[0]),
	})
	wantCode(t, err, "InsufficientInstanceCapacity")
	e.sb.ClearCapacity()
	run(t, e, &ec2.RunInstancesInput{MinCount: aws.Int32(3)})
}

func TestRunInstancesValidation(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	base := func() *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{
			ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeM5Large,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*ec2.RunInstancesInput)
		code   string
	}{
		{"unknown AMI", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-0000000000000dead") }, "InvalidAMIID.NotFound"},
		{"unknown subnet", func(in *ec2.RunInstancesInput) { in.SubnetId = aws.String("subnet-nosuch") }, "InvalidSubnetID.NotFound"},
		{"unknown type", func(in *ec2.RunInstancesInput) { in.InstanceType = "x9.huge" }, "InvalidParameterValue"},
		{"arch mismatch", func(in *ec2.RunInstancesInput) { in.InstanceType = types.InstanceTypeM7gLarge }, "InvalidParameterValue"},
		{"unknown group", func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{"sg-nosuch"} }, "InvalidGroup.NotFound"},
		{"unknown key", func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("nokey") }, "InvalidKeyPair.NotFound"},
		{"unknown template", func(in *ec2.RunInstancesInput) {
			in.LaunchTemplate = &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-nosuch")}
		}, "InvalidLaunchTemplateId.NotFound"},
		{"dry run", func(in *ec2.RunInstancesInput) { in.DryRun = aws.Bool(true) }, "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.change(in)
			_, err := e.ec2.RunInstances(ctx, in)
			wantCode(t, err, tc.code)
		})
	}
	if n := len(e.sb.Instances()); n != 0 {
		t.Fatalf("failed launches left %d instances", n)
	}
}

func TestLaunchTemplateAndRegisteredResources(t *testing.T) {
	e := start(t, sandbox.Options{})
	noErr(t, e.sb.RegisterImage(sandbox.Image{ID: "ami-0custom000000arm", Architecture: "arm64"}))
	noErr(t, e.sb.RegisterSubnet(sandbox.Subnet{ID: "subnet-0custom", Zone: "us-east-1c", CIDR: "192.168.7.0/24"}))
	noErr(t, e.sb.RegisterSecurityGroup("sg-0custom", "hpc"))
	noErr(t, e.sb.RegisterLaunchTemplate(sandbox.LaunchTemplate{
		ID: "lt-0custom", Name: "hpc", ImageID: "ami-0custom000000arm", InstanceType: "m7g.xlarge",
		SubnetID: "subnet-0custom", SecurityGroupIDs: []string{"sg-0custom"}, Spot: true,
	}))
	out := must(e.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("hpc"), Version: aws.String("$Latest")},
	}))
	in := out.Instances[0]
	if in.InstanceType != "m7g.xlarge" || aws.ToString(in.ImageId) != "ami-0custom000000arm" || in.Architecture != types.ArchitectureValuesArm64 ||
		!strings.HasPrefix(aws.ToString(in.PrivateIpAddress), "192.168.7.") || in.InstanceLifecycle != types.InstanceLifecycleTypeSpot ||
		aws.ToString(in.SecurityGroups[0].GroupId) != "sg-0custom" {
		t.Fatalf("instance from template: %+v", in)
	}
}

func TestInjectedErrorsSurfaceInTheSDK(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		action, code string
		call         func() error
	}{
		{"ec2:RunInstances", "InsufficientInstanceCapacity", func() error {
			_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			return err
		}},
		{"ec2:RunInstances", "InstanceLimitExceeded", func() error {
			_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			return err
		}},
		{"ec2:RunInstances", "UnauthorizedOperation", func() error {
			_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			return err
		}},
		{"ec2:DescribeInstances", "RequestLimitExceeded", func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}},
		{"ssm:GetParameter", "ThrottlingException", func() error {
			_, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
			return err
		}},
	} {
		t.Run(tc.code, func(t *testing.T) {
			if err := e.sb.AddFault(sandbox.Fault{Action: tc.action, Code: tc.code, Count: 1}); err != nil {
				t.Fatal(err)
			}
			err := tc.call()
			wantCode(t, err, tc.code)
			if tc.code == "UnauthorizedOperation" && !strings.Contains(err.Error(), "Encoded authorization failure message") {
				t.Errorf("message %v lacks EC2's shape", err)
			}
			// Count 1: the next call is not hit.
			if err := tc.call(); apiCode(err) == tc.code {
				t.Fatalf("fault with Count 1 hit twice: %v", err)
			}
		})
	}
	if len(e.sb.Faults()) != 0 {
		t.Fatalf("spent faults still armed: %+v", e.sb.Faults())
	}
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:NoSuchAction", Code: "X"}); err == nil {
		t.Fatal("a fault on an unknown action must be refused")
	}
}

// retryingClient is an EC2 client on the sandbox whose SDK retries at once.
func (e *env) retryingClient() *ec2.Client {
	cfg := awsConfig()
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.url) })
}

func TestSDKRetries503(t *testing.T) {
	e := start(t, sandbox.Options{})
	client := e.retryingClient()
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeInstances", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetCalls()
	if _, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("the SDK did not retry 503 through: %v", err)
	}
	if n := e.sb.Calls()["ec2:DescribeInstances"]; n != 3 {
		t.Fatalf("%d DescribeInstances calls, want 3 (two 503s, one success)", n)
	}
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	e := start(t, sandbox.Options{})
	client := e.retryingClient()
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeInstances", Drop: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetCalls()
	if _, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("the SDK did not retry a dropped connection: %v", err)
	}
	if n := e.sb.Calls()["ec2:DescribeInstances"]; n != 2 {
		t.Fatalf("%d DescribeInstances calls, want 2 (one dropped, one answered)", n)
	}
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeInstances", Drop: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err == nil {
		t.Fatal("every connection dropped, yet the call succeeded")
	}
}

func TestDelayFault(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.sb.AddFault(sandbox.Fault{Action: "ec2:DescribeImages", Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed call answered: %v", err)
	}
}

func TestPauseAfterApplyingBeforeAnswering(t *testing.T) {
	e := start(t, sandbox.Options{})
	if err := e.sb.Pause("ec2:RunInstances", sandbox.PauseAfter); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
			ImageId: aws.String(sandbox.DefaultImageID), InstanceType: "m5.large", MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		})
		done <- err
	}()
	// Waits for the call's goroutine to reach the pause, not for time to
	// pass: the sandbox offers no signal for it, and the loop ends as soon
	// as it does.
	for e.sb.Paused("ec2:RunInstances") == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := len(e.sb.Instances()); n != 2 {
		t.Fatalf("paused after applying, but %d instances exist", n)
	}
	select {
	case err := <-done:
		t.Fatalf("paused call answered: %v", err)
	default:
	}
	e.sb.Release("ec2:RunInstances")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSSMParameters(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	out := must(e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")}))
	if aws.ToString(out.Parameter.Value) != sandbox.DefaultImageID {
		t.Fatalf("parameter = %q", aws.ToString(out.Parameter.Value))
	}
	e.sb.SetParameter("/my/ami", "ami-0custom")
	many := must(e.ssm.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/my/ami", "/nope"}}))
	if len(many.Parameters) != 1 || aws.ToString(many.Parameters[0].Value) != "ami-0custom" || len(many.InvalidParameters) != 1 {
		t.Fatalf("GetParameters = %+v", many)
	}
	_, err := e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("error = %v, want ParameterNotFound", err)
	}
}

func TestDescribeInstanceTypes(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	out := must(e.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m7g.large", "c5.2xlarge"}}))
	if len(out.InstanceTypes) != 2 {
		t.Fatalf("%d types", len(out.InstanceTypes))
	}
	arm, c5 := out.InstanceTypes[0], out.InstanceTypes[1]
	if arm.ProcessorInfo.SupportedArchitectures[0] != types.ArchitectureTypeArm64 || aws.ToInt32(arm.VCpuInfo.DefaultVCpus) != 2 || aws.ToInt64(arm.MemoryInfo.SizeInMiB) != 8192 {
		t.Fatalf("m7g.large = %+v %+v", arm.VCpuInfo, arm.MemoryInfo)
	}
	if aws.ToInt32(c5.VCpuInfo.DefaultVCpus) != 8 || aws.ToInt32(c5.VCpuInfo.DefaultCores) != 4 || aws.ToInt32(c5.VCpuInfo.DefaultThreadsPerCore) != 2 {
		t.Fatalf("c5.2xlarge = %+v", c5.VCpuInfo)
	}
	_, err := e.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m5.large", "zz.nope"}})
	wantCode(t, err, "InvalidInstanceType")

	n := 0
	p := ec2.NewDescribeInstanceTypesPaginator(e.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(20)})
	for p.HasMorePages() {
		n += len(must(p.NextPage(ctx)).InstanceTypes)
	}
	if n < 50 {
		t.Fatalf("paginated %d types, want the whole catalogue", n)
	}
}

func TestDescribeStaticResources(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	images := must(e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []types.Filter{{Name: aws.String("architecture"), Values: []string{"arm64"}}}}))
	if len(images.Images) != 1 || aws.ToString(images.Images[0].ImageId) != sandbox.DefaultArmImageID {
		t.Fatalf("images = %+v", images.Images)
	}
	_, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-nosuch"}})
	wantCode(t, err, "InvalidAMIID.NotFound")

	subnets := must(e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: sandbox.DefaultSubnetIDs[:2]}))
	if len(subnets.Subnets) != 2 || aws.ToString(subnets.Subnets[1].AvailabilityZone) != "us-east-1b" || aws.ToString(subnets.Subnets[0].CidrBlock) != "10.0.0.0/18" {
		t.Fatalf("subnets = %+v", subnets.Subnets)
	}
	_, err = e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-nosuch"}})
	wantCode(t, err, "InvalidSubnetID.NotFound")

	groups := must(e.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sandbox.DefaultSecurityGroupID}}))
	if len(groups.SecurityGroups) != 1 || aws.ToString(groups.SecurityGroups[0].GroupName) != "default" {
		t.Fatalf("groups = %+v", groups.SecurityGroups)
	}
	_, err = e.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-nosuch"}})
	wantCode(t, err, "InvalidGroup.NotFound")

	keys := must(e.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{sandbox.DefaultKeyName}}))
	if len(keys.KeyPairs) != 1 || aws.ToString(keys.KeyPairs[0].KeyName) != sandbox.DefaultKeyName {
		t.Fatalf("key pairs = %+v", keys.KeyPairs)
	}
	_, err = e.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"nokey"}})
	wantCode(t, err, "InvalidKeyPair.NotFound")
}
