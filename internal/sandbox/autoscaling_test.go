package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ohfp/ohfp/internal/sandbox"
)

func asgClient(e *env) *autoscaling.Client {
	return autoscaling.NewFromConfig(awsConfig(), func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.url) })
}

func group(t *testing.T, c *autoscaling.Client, name string) astypes.AutoScalingGroup {
	t.Helper()
	out := must(c.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}))
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("DescribeAutoScalingGroups(%s) = %d groups", name, len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0]
}

// inService lists the group's instances by lifecycle state.
func byState(g astypes.AutoScalingGroup) map[astypes.LifecycleState][]string {
	out := map[astypes.LifecycleState][]string{}
	for _, in := range g.Instances {
		out[in.LifecycleState] = append(out[in.LifecycleState], aws.ToString(in.InstanceId))
	}
	return out
}

func TestAutoScalingGroupLifecycle(t *testing.T) {
	e := start(t, sandbox.Options{PendingDelay: 2 * time.Second})
	ctx := context.Background()
	asg := asgClient(e)
	lt := template(t, e, "ohfp-asg", "ohfp:template", "t1")
	e.sb.ResetCalls()
	must(asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("ohfp-r1"),
		MinSize:              aws.Int32(0),
		MaxSize:              aws.Int32(10),
		DesiredCapacity:      aws.Int32(4),
		VPCZoneIdentifier:    aws.String(sandbox.DefaultSubnetIDs[0] + "," + sandbox.DefaultSubnetIDs[1]),
		MixedInstancesPolicy: &astypes.MixedInstancesPolicy{
			LaunchTemplate: &astypes.LaunchTemplate{
				LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("$Latest")},
				Overrides: []astypes.LaunchTemplateOverrides{
					{InstanceType: aws.String("m5.large"), WeightedCapacity: aws.String("1")},
					{InstanceType: aws.String("c5.large"), WeightedCapacity: aws.String("1")},
				},
			},
			InstancesDistribution: &astypes.InstancesDistribution{OnDemandBaseCapacity: aws.Int32(0), OnDemandPercentageAboveBaseCapacity: aws.Int32(50)},
		},
		Tags: []astypes.Tag{
			{Key: aws.String("ohfp:request-id"), Value: aws.String("r1"), PropagateAtLaunch: aws.Bool(true)},
			{Key: aws.String("group-only"), Value: aws.String("x"), PropagateAtLaunch: aws.Bool(false)},
		},
	}))
	if calls := e.sb.Calls(); calls["autoscaling:CreateAutoScalingGroup"] != 1 {
		t.Fatalf("calls = %v", calls)
	}
	_, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("ohfp-r1"),
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}})
	wantCode(t, err, "AlreadyExists")

	g := group(t, asg, "ohfp-r1")
	states := byState(g)
	if len(states[astypes.LifecycleStatePending]) != 4 || aws.ToInt32(g.DesiredCapacity) != 4 ||
		aws.ToString(g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId) != lt || tagValueASG(g.Tags, "group-only") != "x" {
		t.Fatalf("new group: %v desired %d", states, aws.ToInt32(g.DesiredCapacity))
	}
	e.sb.Advance(2 * time.Second)
	inService := byState(group(t, asg, "ohfp-r1"))[astypes.LifecycleStateInService]
	if len(inService) != 4 {
		t.Fatalf("in service: %v", inService)
	}
	spot := 0
	for _, in := range e.sb.InstancesWithTag("aws:autoscaling:groupName", "ohfp-r1") {
		if in.Tags["ohfp:request-id"] != "r1" || in.Tags["ohfp:template"] != "t1" || in.Tags["group-only"] != "" || in.Type != "m5.large" {
			t.Errorf("%s: type %s tags %v", in.ID, in.Type, in.Tags)
		}
		if in.Spot {
			spot++
		}
	}
	if spot != 2 {
		t.Errorf("%d spot of 4 with 50%% on-demand", spot)
	}

	// A terminated instance is replaced.
	must(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: inService[:1]}))
	if got := byState(group(t, asg, "ohfp-r1")); len(got[astypes.LifecycleStatePending]) != 1 || len(got[astypes.LifecycleStateInService]) != 3 {
		t.Fatalf("after a termination: %v", got)
	}
	e.sb.Advance(2 * time.Second)

	// Detached with decrement: out of the group, still running, not replaced.
	det := must(asg.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("ohfp-r1"),
		InstanceIds: inService[1:2], ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	if len(det.Activities) != 1 || !strings.Contains(aws.ToString(det.Activities[0].Description), inService[1]) {
		t.Fatalf("detach activities %+v", det.Activities)
	}
	// Terminated through the group with decrement: not replaced either.
	term := must(asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(inService[2]), ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	if aws.ToString(term.Activity.AutoScalingGroupName) != "ohfp-r1" {
		t.Fatalf("terminate activity %+v", term.Activity)
	}
	e.sb.Advance(time.Hour)
	g = group(t, asg, "ohfp-r1")
	if got := byState(g); aws.ToInt32(g.DesiredCapacity) != 2 || len(g.Instances) != 2 || len(got[astypes.LifecycleStateInService]) != 2 {
		t.Fatalf("after detach and terminate: desired %d, %v", aws.ToInt32(g.DesiredCapacity), got)
	}
	detached := describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: inService[1:2]})
	if detached[0].State.Name != "running" {
		t.Fatalf("detached instance %v", detached[0].State.Name)
	}

	// Scaling in terminates what is above the desired capacity.
	must(asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("ohfp-r1"), DesiredCapacity: aws.Int32(1)}))
	if g = group(t, asg, "ohfp-r1"); len(g.Instances) != 1 {
		t.Fatalf("after scale-in to 1: %v", byState(g))
	}
	_, err = asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("ohfp-r1"), DesiredCapacity: aws.Int32(11)})
	wantCode(t, err, "ValidationError")

	_, err = asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("ohfp-r1")})
	wantCode(t, err, "ResourceInUse")
	must(asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("ohfp-r1"), ForceDelete: aws.Bool(true)}))
	if out := must(asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})); len(out.AutoScalingGroups) != 0 || len(e.sb.Groups()) != 0 {
		t.Fatalf("groups left: %d", len(out.AutoScalingGroups))
	}
	for _, in := range e.sb.InstancesWithTag("aws:autoscaling:groupName", "ohfp-r1") {
		if in.ID != inService[1] && in.State != sandbox.StateTerminated {
			t.Errorf("%s %s after ForceDelete", in.ID, in.State)
		}
	}
	_, err = asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("ohfp-r1"), MaxSize: aws.Int32(3)})
	wantCode(t, err, "ValidationError")
}

func TestAutoScalingGroupUpdateAndCapacity(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	asg := asgClient(e)
	lt := template(t, e, "ohfp-asg")
	noErr(t, e.sb.SetCapacity("m5.large", "us-east-1a", 1))
	must(asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), MinSize: aws.Int32(0), MaxSize: aws.Int32(5), DesiredCapacity: aws.Int32(3),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("ohfp-asg")},
		VPCZoneIdentifier: aws.String(sandbox.DefaultSubnetIDs[0] + "," + sandbox.DefaultSubnetIDs[1]),
	}))
	zones := map[string]int{}
	for _, in := range e.sb.InstancesWithTag("aws:autoscaling:groupName", "g") {
		zones[in.Zone]++
	}
	if zones["us-east-1a"] != 1 || zones["us-east-1b"] != 2 {
		t.Fatalf("zones = %v with one m5.large left in us-east-1a", zones)
	}
	must(asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(5)}))
	g := group(t, asg, "g")
	if len(g.Instances) != 5 || aws.ToInt32(g.MaxSize) != 5 || aws.ToString(g.LaunchTemplate.LaunchTemplateId) != lt {
		t.Fatalf("after raising desired: %d instances, max %d", len(g.Instances), aws.ToInt32(g.MaxSize))
	}
	if gs := e.sb.Groups(); len(gs) != 1 || len(gs[0].InstanceIDs) != 5 || gs[0].DesiredCapacity != 5 {
		t.Fatalf("Groups() = %+v", gs)
	}

	// Short of capacity: the failed launches are scaling activities.
	noErr(t, e.sb.SetCapacity("m5.large", "", 0))
	must(asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"), MaxSize: aws.Int32(7), DesiredCapacity: aws.Int32(7)}))
	acts := must(asg.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("g")})).Activities
	if len(acts) != 2 || acts[0].StatusCode != astypes.ScalingActivityStatusCodeFailed || !strings.Contains(aws.ToString(acts[0].StatusMessage), "InsufficientInstanceCapacity") {
		t.Fatalf("activities = %+v", acts)
	}
	var fromControl []sandbox.Group
	control(t, e, "GET", "/_sandbox/groups", "", &fromControl)
	if len(fromControl) != 1 || len(fromControl[0].InstanceIDs) != 5 || len(fromControl[0].Errors) != 2 {
		t.Fatalf("GET /_sandbox/groups = %+v", fromControl)
	}
}

func tagValueASG(tags []astypes.TagDescription, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func TestSTSGetCallerIdentity(t *testing.T) {
	e := start(t, sandbox.Options{AccountID: "210987654321"})
	c := sts.NewFromConfig(awsConfig(), func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
	out := must(c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}))
	if aws.ToString(out.Account) != "210987654321" || aws.ToString(out.Arn) != "arn:aws:iam::210987654321:user/sandbox" || aws.ToString(out.UserId) != sandbox.SandboxUserID {
		t.Fatalf("identity = %s %s %s", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
	if e.sb.Calls()["sts:GetCallerIdentity"] != 1 {
		t.Fatalf("calls = %v", e.sb.Calls())
	}
}
