package sandbox_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// These tests pin the rules of docs/aws-rules.md that the sandbox enforces,
// so that a plugin breaking one fails a test.

func TestRuleFilterValuesAreSummedOverFilters(t *testing.T) {
	e := start(t, sandbox.Options{})
	values := make([]string, 196)
	for i := range values {
		values[i] = fmt.Sprintf("req-%d", i)
	}
	states := []string{"pending", "running", "stopping", "stopped", "shutting-down"}
	_, err := e.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []types.Filter{
		tagFilter("ohfp:request-id", values...), {Name: aws.String("instance-state-name"), Values: states}}})
	wantCode(t, err, "FilterLimitExceeded")
	describe(t, e, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		tagFilter("ohfp:request-id", values[:195]...), {Name: aws.String("instance-state-name"), Values: states}}})
}

func TestRuleAtMost1000InstanceIDsACall(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%017x", i)
	}
	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	wantCode(t, err, "InvalidParameterValue")
	_, err = e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	wantCode(t, err, "InvalidParameterValue")
	_, err = e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1000]})
	wantCode(t, err, "InvalidInstanceID.NotFound") // within the limit: judged id by id
}

func TestRuleProtectedInstanceFailsTheCallForItsZone(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	var all []string
	for _, sn := range sandbox.DefaultSubnetIDs[:2] {
		all = append(all, ids(run(t, e, &ec2.RunInstancesInput{MinCount: aws.Int32(2), SubnetId: aws.String(sn)}).Instances)...)
	}
	noErr(t, e.sb.Protect(all[0]))

	_, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: all})

	wantCode(t, err, "OperationNotPermitted")
	states := map[string]types.InstanceStateName{}
	for _, in := range describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: all}) {
		states[aws.ToString(in.InstanceId)] = in.State.Name
	}
	// The protected one's zone keeps running; the other zone terminates.
	if states[all[0]] != types.InstanceStateNameRunning || states[all[1]] != types.InstanceStateNameRunning ||
		states[all[2]] == types.InstanceStateNameRunning || states[all[3]] == types.InstanceStateNameRunning {
		t.Errorf("states after a refused call %v", states)
	}
}

func TestRuleClientTokenIsAtMost64ASCII(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	for _, tok := range []string{strings.Repeat("t", 65), "tøken"} {
		_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String(tok)})
		wantCode(t, err, "InvalidParameterValue")
		_, err = e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-token"),
			LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(sandbox.DefaultImageID)}, ClientToken: aws.String(tok)})
		wantCode(t, err, "InvalidParameterValue")
		_, err = e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant, ClientToken: aws.String(tok),
			LaunchTemplateConfigs:       ltConfig(template(t, e, "lt-"+fmt.Sprint(len(tok))), over(types.InstanceTypeM5Large, 1)),
			TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand)})
		wantCode(t, err, "InvalidParameterValue")
	}
	run(t, e, &ec2.RunInstancesInput{ClientToken: aws.String(strings.Repeat("t", 64))})
}

func TestRuleUserDataIsAtMost16KB(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	big := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("#", 16*1024+1)))
	_, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String(big)})
	wantCode(t, err, "InvalidParameterValue")
	_, err = e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-big"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(sandbox.DefaultImageID), UserData: aws.String(big)}})
	wantCode(t, err, "InvalidParameterValue")
	run(t, e, &ec2.RunInstancesInput{UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("#", 16*1024))))})
}

func TestRuleFleets(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	lt := template(t, e, "ohfp-lt")
	noErr(t, e.sb.RegisterSubnet(sandbox.Subnet{ID: "subnet-0sandbox0000000d", Zone: "us-east-1a", CIDR: "10.1.0.0/16", VPCID: "vpc-0sandbox00000001"}))
	twoInOneZone := over(types.InstanceTypeM5Large, 1)
	twoInOneZone.SubnetId = aws.String("subnet-0sandbox0000000d")
	oneZone := ltConfig(lt, over(types.InstanceTypeM5Large, 1), twoInOneZone)

	_, err := e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant, LaunchTemplateConfigs: oneZone,
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand)})
	wantCode(t, err, "InvalidFleetConfig")

	_, err = e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeRequest, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand), ExcessCapacityTerminationPolicy: types.FleetExcessCapacityTerminationPolicyNoTermination})
	wantCode(t, err, "InvalidParameterValue")

	request := aws.ToString(must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeRequest, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(2, 2, types.DefaultTargetCapacityTypeOnDemand)})).FleetId)
	_, err = e.ec2.ModifyFleet(ctx, &ec2.ModifyFleetInput{FleetId: aws.String(request), TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(1)}})
	wantCode(t, err, "InvalidParameterValue")

	instant := aws.ToString(must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand)})).FleetId)
	_, err = e.ec2.DeleteFleets(ctx, &ec2.DeleteFleetsInput{FleetIds: []string{instant}, TerminateInstances: aws.Bool(false)})
	wantCode(t, err, "InvalidParameterCombination")
	many := make([]string, 26)
	for i := range many {
		many[i] = aws.ToString(must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
			TargetCapacitySpecification: target(0, 0, types.DefaultTargetCapacityTypeOnDemand)})).FleetId)
	}
	_, err = e.ec2.DeleteFleets(ctx, &ec2.DeleteFleetsInput{FleetIds: many, TerminateInstances: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterValue")
	must(e.ec2.DeleteFleets(ctx, &ec2.DeleteFleetsInput{FleetIds: many[:25], TerminateInstances: aws.Bool(true)}))

	// 3 types x 101 subnets (each in its own zone) are 303 pools.
	var wide []types.FleetLaunchTemplateOverridesRequest
	for i := range 101 {
		sn := fmt.Sprintf("subnet-%017x", i+1)
		noErr(t, e.sb.RegisterSubnet(sandbox.Subnet{ID: sn, Zone: fmt.Sprintf("us-east-1-zone%d", i), CIDR: fmt.Sprintf("10.%d.0.0/16", 100+i), VPCID: "vpc-0sandbox00000001"}))
		for _, it := range []types.InstanceType{types.InstanceTypeM5Large, types.InstanceTypeM5Xlarge, types.InstanceTypeM52xlarge} {
			wide = append(wide, types.FleetLaunchTemplateOverridesRequest{InstanceType: it, SubnetId: aws.String(sn)})
		}
	}
	_, err = e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeRequest, LaunchTemplateConfigs: ltConfig(lt, wide...),
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand)})
	wantCode(t, err, "InvalidParameterValue")
	must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeRequest, LaunchTemplateConfigs: ltConfig(lt, wide[:300]...),
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand)}))
}

// TestRuleFleetTagsAndInstantFleets: CreateFleet tags instances only for
// an instant fleet, a Spot Fleet request's own tag specifications name
// spot-fleet-request alone, and DescribeFleetInstances refuses an instant
// fleet.
func TestRuleFleetTagsAndInstantFleets(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	lt := template(t, e, "ohfp-lt")
	tagged := func(rts ...types.ResourceType) []types.TagSpecification {
		var out []types.TagSpecification
		for _, rt := range rts {
			out = append(out, types.TagSpecification{ResourceType: rt, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
		}
		return out
	}
	for _, typ := range []types.FleetType{types.FleetTypeRequest, types.FleetTypeMaintain} {
		_, err := e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: typ, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
			TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand), TagSpecifications: tagged(types.ResourceTypeFleet, types.ResourceTypeInstance)})
		wantCode(t, err, "InvalidParameterValue")
		must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: typ, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
			TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand), TagSpecifications: tagged(types.ResourceTypeFleet)}))
	}
	instant := must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant, LaunchTemplateConfigs: ltConfig(lt, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(1, 1, types.DefaultTargetCapacityTypeOnDemand), TagSpecifications: tagged(types.ResourceTypeFleet, types.ResourceTypeInstance)}))
	_, err := e.ec2.DescribeFleetInstances(ctx, &ec2.DescribeFleetInstancesInput{FleetId: instant.FleetId})
	wantCode(t, err, "InvalidParameterValue")

	spot := func(rt types.ResourceType) error {
		_, err := e.ec2.RequestSpotFleet(ctx, &ec2.RequestSpotFleetInput{SpotFleetRequestConfig: &types.SpotFleetRequestConfigData{
			IamFleetRole: aws.String("arn:aws:iam::123456789012:role/fleet"), TargetCapacity: aws.Int32(1), Type: types.FleetTypeRequest,
			LaunchTemplateConfigs: []types.LaunchTemplateConfig{{LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("$Latest")},
				Overrides: []types.LaunchTemplateOverrides{{InstanceType: types.InstanceTypeM5Large, SubnetId: aws.String(sandbox.DefaultSubnetIDs[0])}}}},
			TagSpecifications: tagged(rt),
		}})
		return err
	}
	wantCode(t, spot(types.ResourceTypeInstance), "InvalidParameterValue")
	noErr(t, spot(types.ResourceTypeSpotFleetRequest))

	// A request-type Spot Fleet is not modifiable.
	sfr := must(e.ec2.DescribeSpotFleetRequests(ctx, &ec2.DescribeSpotFleetRequestsInput{})).SpotFleetRequestConfigs[0].SpotFleetRequestId
	_, err = e.ec2.ModifySpotFleetRequest(ctx, &ec2.ModifySpotFleetRequestInput{SpotFleetRequestId: sfr, TargetCapacity: aws.Int32(0)})
	wantCode(t, err, "FleetNotInModifiableState")
}

func TestRuleAutoScaling(t *testing.T) {
	e := start(t, sandbox.Options{ShutdownDelay: time.Minute})
	ctx := context.Background()
	c := asgClient(e)
	lt := template(t, e, "ohfp-lt")
	group := func(name string, edit func(*autoscaling.CreateAutoScalingGroupInput)) error {
		in := &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(25), DesiredCapacity: aws.Int32(25),
			VPCZoneIdentifier: aws.String(sandbox.DefaultSubnetIDs[0]),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("$Latest")}}
		if edit != nil {
			edit(in)
		}
		_, err := c.CreateAutoScalingGroup(ctx, in)
		return err
	}
	wantCode(t, group("no-subnet", func(in *autoscaling.CreateAutoScalingGroupInput) { in.VPCZoneIdentifier = nil }), "ValidationError")
	pools := func(strategy string, n int32) func(*autoscaling.CreateAutoScalingGroupInput) {
		return func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.LaunchTemplate = nil
			in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{
				LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
					Overrides: []astypes.LaunchTemplateOverrides{{InstanceType: aws.String("m5.large")}}},
				InstancesDistribution: &astypes.InstancesDistribution{SpotAllocationStrategy: aws.String(strategy), SpotInstancePools: aws.Int32(n)},
			}
		}
	}
	wantCode(t, group("pools-21", pools("lowest-price", 21)), "ValidationError")
	wantCode(t, group("pools-strategy", pools("capacity-optimized", 2)), "ValidationError")
	noErr(t, group("pools-20", pools("lowest-price", 20)))

	noErr(t, group("g", nil))
	e.sb.Advance(0)
	members := group25(t, c)
	_, err := c.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("g"), InstanceIds: members[:21], ShouldDecrementDesiredCapacity: aws.Bool(true)})
	wantCode(t, err, "ValidationError")
	must(c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(members[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	_, err = c.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("g"), InstanceIds: members[:1], ShouldDecrementDesiredCapacity: aws.Bool(true)})
	if wantCode(t, err, "ValidationError"); !strings.Contains(err.Error(), "is not in InService or Standby") {
		t.Errorf("detaching a Terminating member: %v", err)
	}
	must(c.DetachInstances(ctx, &autoscaling.DetachInstancesInput{AutoScalingGroupName: aws.String("g"), InstanceIds: members[1:21], ShouldDecrementDesiredCapacity: aws.Bool(true)}))

	// At most 50 group names, or MaxRecords of them (at most 100).
	names := make([]string, 51)
	for i := range names {
		names[i] = fmt.Sprintf("ohfp-req-%d", i)
	}
	_, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	wantCode(t, err, "ValidationError")
	must(c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names, MaxRecords: aws.Int32(100)}))
}

// group25 lists the 25 members of group g once it has launched them.
func group25(t *testing.T, c *autoscaling.Client) []string {
	t.Helper()
	members := byState(group(t, c, "g"))[astypes.LifecycleStateInService]
	if len(members) != 25 {
		t.Fatalf("%d members in service, want 25", len(members))
	}
	return members
}

func TestRuleQuotas(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	noErr(t, e.sb.SetQuotas(sandbox.Quotas{Instances: 10, OnDemandVCPUs: 6, SpotVCPUs: 4}))
	launch := func(n int32, typ types.InstanceType, spot bool) (*ec2.RunInstancesOutput, error) {
		in := &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: typ, MinCount: aws.Int32(1), MaxCount: aws.Int32(n)}
		if spot {
			in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot}
		}
		return e.ec2.RunInstances(ctx, in)
	}
	// m5.large has 2 vCPUs: 6 on-demand vCPUs take 3 of the 5 asked.
	if out, err := launch(5, types.InstanceTypeM5Large, false); err != nil || len(out.Instances) != 3 {
		t.Fatalf("on-demand within 6 vCPUs: %v", err)
	}
	_, err := launch(1, types.InstanceTypeM5Large, false)
	wantCode(t, err, "VcpuLimitExceeded")
	if out, err := launch(5, types.InstanceTypeM5Large, true); err != nil || len(out.Instances) != 2 {
		t.Fatalf("spot within 4 vCPUs: %v", err)
	}
	_, err = launch(1, types.InstanceTypeM5Large, true)
	wantCode(t, err, "MaxSpotInstanceCountExceeded")
	noErr(t, e.sb.SetQuotas(sandbox.Quotas{Instances: 5}))
	_, err = launch(1, types.InstanceTypeT3Micro, false)
	wantCode(t, err, "InstanceLimitExceeded")

	// A fleet meets them as errors of its pools.
	noErr(t, e.sb.SetQuotas(sandbox.Quotas{SpotVCPUs: 4}))
	out := must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{Type: types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(template(t, e, "ohfp-lt"), over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(3, 0, types.DefaultTargetCapacityTypeSpot)}))
	if len(out.Errors) == 0 || aws.ToString(out.Errors[0].ErrorCode) != "MaxSpotInstanceCountExceeded" {
		t.Errorf("fleet errors %+v", out.Errors)
	}
}

// TestRuleNetworkInterfaces: the subnet and security groups of a launch
// with network interfaces go inside them, and each network card holds one,
// the primary on card 0 at device index 0.
func TestRuleNetworkInterfaces(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	nic := func(card, device int32) types.InstanceNetworkInterfaceSpecification {
		return types.InstanceNetworkInterfaceSpecification{InterfaceType: aws.String("efa"), NetworkCardIndex: aws.Int32(card), DeviceIndex: aws.Int32(device),
			SubnetId: aws.String(sandbox.DefaultSubnetIDs[1]), Groups: []string{sandbox.DefaultSecurityGroupID}}
	}
	base := func(nics ...types.InstanceNetworkInterfaceSpecification) *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeM5Large,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), NetworkInterfaces: nics}
	}
	beside := base(nic(0, 0))
	beside.SubnetId = aws.String(sandbox.DefaultSubnetIDs[1])
	_, err := e.ec2.RunInstances(ctx, beside)
	wantCode(t, err, "InvalidParameterCombination")
	_, err = e.ec2.RunInstances(ctx, base(nic(0, 0), nic(0, 1)))
	wantCode(t, err, "InvalidParameterValue")
	out := run(t, e, base(nic(0, 0), nic(1, 1)))
	if got := aws.ToString(out.Instances[0].SubnetId); got != sandbox.DefaultSubnetIDs[1] {
		t.Errorf("subnet %s, want the interfaces' %s", got, sandbox.DefaultSubnetIDs[1])
	}
}
