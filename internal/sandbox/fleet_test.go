package sandbox_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// template creates a launch template with instance tags kv, and returns its id.
func template(t *testing.T, e *env, name string, kv ...string) string {
	t.Helper()
	var tags []types.Tag
	for i := 0; i < len(kv); i += 2 {
		tags = append(tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	out := must(e.ec2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &types.RequestLaunchTemplateData{
			ImageId:            aws.String(sandbox.DefaultImageID),
			InstanceType:       types.InstanceTypeM5Large,
			KeyName:            aws.String(sandbox.DefaultKeyName),
			SecurityGroupIds:   []string{sandbox.DefaultSecurityGroupID},
			IamInstanceProfile: &types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("hpc-node")},
			UserData:           aws.String("IyEvYmluL3NoCg=="),
			EbsOptimized:       aws.Bool(true),
			BlockDeviceMappings: []types.LaunchTemplateBlockDeviceMappingRequest{{
				DeviceName: aws.String("/dev/xvda"), Ebs: &types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(50)},
			}},
			TagSpecifications: []types.LaunchTemplateTagSpecificationRequest{
				{ResourceType: types.ResourceTypeInstance, Tags: tags},
				{ResourceType: types.ResourceTypeVolume, Tags: tags},
			},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeLaunchTemplate, Tags: []types.Tag{{Key: aws.String("ohfp:ephemeral"), Value: aws.String("true")}}}},
	}))
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

// ltConfig is one launch template config with an override per type, in
// subnet a unless subnets are given.
func ltConfig(id string, overrides ...types.FleetLaunchTemplateOverridesRequest) []types.FleetLaunchTemplateConfigRequest {
	return []types.FleetLaunchTemplateConfigRequest{{
		LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String(id), Version: aws.String("$Latest")},
		Overrides:                   overrides,
	}}
}

func over(typ types.InstanceType, weight float64) types.FleetLaunchTemplateOverridesRequest {
	return types.FleetLaunchTemplateOverridesRequest{InstanceType: typ, SubnetId: aws.String(sandbox.DefaultSubnetIDs[0]), WeightedCapacity: aws.Float64(weight)}
}

func target(total, onDemand int32, def types.DefaultTargetCapacityType) *types.TargetCapacitySpecificationRequest {
	return &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(total), OnDemandTargetCapacity: aws.Int32(onDemand), DefaultTargetCapacityType: def}
}

func fleetData(t *testing.T, e *env, id string) types.FleetData {
	t.Helper()
	out := must(e.ec2.DescribeFleets(context.Background(), &ec2.DescribeFleetsInput{FleetIds: []string{id}}))
	if len(out.Fleets) != 1 {
		t.Fatalf("DescribeFleets(%s) = %d fleets", id, len(out.Fleets))
	}
	return out.Fleets[0]
}

func fleetInstances(t *testing.T, e *env, id string) []string {
	t.Helper()
	out := must(e.ec2.DescribeFleetInstances(context.Background(), &ec2.DescribeFleetInstancesInput{FleetId: aws.String(id)}))
	var got []string
	for _, in := range out.ActiveInstances {
		got = append(got, aws.ToString(in.InstanceId))
	}
	return got
}

// maintainFleet creates a maintain fleet of m5.large toward target.
func maintainFleet(t *testing.T, e *env, target *types.TargetCapacitySpecificationRequest) string {
	t.Helper()
	id := template(t, e, "ohfp-lt")
	return aws.ToString(must(e.ec2.CreateFleet(context.Background(), &ec2.CreateFleetInput{
		Type:                        types.FleetTypeMaintain,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target,
	})).FleetId)
}

func TestLaunchTemplates(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := template(t, e, "ohfp-req-1", "team", "hpc")
	_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("ohfp-req-1"), LaunchTemplateData: &types.RequestLaunchTemplateData{}})
	wantCode(t, err, "InvalidLaunchTemplateName.AlreadyExistsException")

	out := must(e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []types.Filter{tagFilter("ohfp:ephemeral", "true")}}))
	if len(out.LaunchTemplates) != 1 || aws.ToString(out.LaunchTemplates[0].LaunchTemplateId) != id ||
		aws.ToInt64(out.LaunchTemplates[0].LatestVersionNumber) != 1 || aws.ToString(out.LaunchTemplates[0].LaunchTemplateName) != "ohfp-req-1" {
		t.Fatalf("DescribeLaunchTemplates = %+v", out.LaunchTemplates)
	}

	// RunInstances takes what the template holds, tags included.
	in := run(t, e, &ec2.RunInstancesInput{ImageId: aws.String(""), InstanceType: types.InstanceTypeC5Large,
		LaunchTemplate:    &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("$Default")},
		TagSpecifications: tagSpec("ohfp:request-id", "r1")}).Instances[0]
	if tagValue(in.Tags, "team") != "hpc" || tagValue(in.Tags, "ohfp:request-id") != "r1" || in.InstanceType != types.InstanceTypeC5Large ||
		!strings.HasSuffix(aws.ToString(in.IamInstanceProfile.Arn), ":instance-profile/hpc-node") || !aws.ToBool(in.EbsOptimized) {
		t.Fatalf("instance from template: type %v tags %v profile %v", in.InstanceType, in.Tags, in.IamInstanceProfile)
	}
	_, err = e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("7")}})
	wantCode(t, err, "InvalidLaunchTemplateId.VersionNotFound")

	must(e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("ohfp-req-1")}))
	_, err = e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
	wantCode(t, err, "InvalidLaunchTemplateId.NotFound")
	_, err = e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"nosuch"}})
	wantCode(t, err, "InvalidLaunchTemplateId.Malformed")
	if out := must(e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})); len(out.LaunchTemplates) != 0 {
		t.Fatalf("templates left: %+v", out.LaunchTemplates)
	}
}

func TestInstantFleetFallsBackToTheNextType(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	noErr(t, e.sb.SetCapacity("m5.large", "", 0))
	id := template(t, e, "ohfp-lt", "ohfp:template", "t1")
	out := must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
		Type:                        types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1), over(types.InstanceTypeM5Xlarge, 1)),
		TargetCapacitySpecification: target(4, 0, types.DefaultTargetCapacityTypeOnDemand),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeFleet, Tags: []types.Tag{{Key: aws.String("ohfp:request-id"), Value: aws.String("r1")}}},
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("ohfp:request-id"), Value: aws.String("r1")}}},
		},
	}))
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "InsufficientInstanceCapacity" ||
		out.Errors[0].LaunchTemplateAndOverrides.Overrides.InstanceType != types.InstanceTypeM5Large ||
		!strings.Contains(aws.ToString(out.Errors[0].ErrorMessage), "sufficient m5.large capacity") {
		t.Fatalf("errors = %+v", out.Errors)
	}
	if len(out.Instances) != 1 || len(out.Instances[0].InstanceIds) != 4 || out.Instances[0].InstanceType != types.InstanceTypeM5Xlarge ||
		out.Instances[0].Lifecycle != types.InstanceLifecycleOnDemand {
		t.Fatalf("instances = %+v", out.Instances)
	}
	for _, in := range describe(t, e, &ec2.DescribeInstancesInput{InstanceIds: out.Instances[0].InstanceIds}) {
		if tagValue(in.Tags, "ohfp:template") != "t1" || tagValue(in.Tags, "ohfp:request-id") != "r1" ||
			tagValue(in.Tags, "aws:ec2:fleet-id") != aws.ToString(out.FleetId) || in.InstanceType != types.InstanceTypeM5Xlarge {
			t.Errorf("instance %s: type %v tags %v", aws.ToString(in.InstanceId), in.InstanceType, in.Tags)
		}
	}
	f := fleetData(t, e, aws.ToString(out.FleetId))
	if f.Type != types.FleetTypeInstant || tagValue(f.Tags, "ohfp:request-id") != "r1" || len(f.Instances) != 1 || len(f.Errors) != 1 {
		t.Fatalf("fleet = %+v", f)
	}

	// Nothing anywhere: no instance, every override in errors.
	noErr(t, e.sb.SetCapacity("m5.xlarge", "", 0))
	out = must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
		Type:                        types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1), over(types.InstanceTypeM5Xlarge, 1)),
		TargetCapacitySpecification: target(2, 0, types.DefaultTargetCapacityTypeOnDemand),
	}))
	if len(out.Instances) != 0 || len(out.Errors) != 2 {
		t.Fatalf("no capacity: instances %+v errors %+v", out.Instances, out.Errors)
	}
}

func TestRequestFleetIsFulfilledAsynchronously(t *testing.T) {
	e := start(t, sandbox.Options{FleetDelay: 10 * time.Second})
	ctx := context.Background()
	id := template(t, e, "ohfp-lt")
	create := func(n int32) string {
		return aws.ToString(must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
			Type:                        types.FleetTypeRequest,
			LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1)),
			TargetCapacitySpecification: target(n, 0, types.DefaultTargetCapacityTypeOnDemand),
		})).FleetId)
	}
	full := create(5)
	if got := fleetInstances(t, e, full); len(got) != 0 {
		t.Fatalf("launched before FleetDelay: %v", got)
	}
	if f := fleetData(t, e, full); f.ActivityStatus != types.FleetActivityStatusPendingFulfillment || f.FleetState != types.FleetStateCodeActive {
		t.Fatalf("new fleet %v/%v", f.FleetState, f.ActivityStatus)
	}
	e.sb.Advance(10 * time.Second)
	if got := fleetInstances(t, e, full); len(got) != 5 {
		t.Fatalf("after FleetDelay: %d instances", len(got))
	}
	if f := fleetData(t, e, full); f.ActivityStatus != types.FleetActivityStatusFulfilled || aws.ToFloat64(f.FulfilledCapacity) != 5 {
		t.Fatalf("fulfilled fleet %v %v", f.ActivityStatus, aws.ToFloat64(f.FulfilledCapacity))
	}
	hist := must(e.ec2.DescribeFleetHistory(ctx, &ec2.DescribeFleetHistoryInput{FleetId: aws.String(full), StartTime: aws.Time(time.Unix(0, 0)),
		EventType: types.FleetEventTypeInstanceChange, MaxResults: aws.Int32(3)}))
	if len(hist.HistoryRecords) != 3 || hist.NextToken == nil || aws.ToString(hist.HistoryRecords[0].EventInformation.EventSubType) != "launched" {
		t.Fatalf("instance history = %+v", hist.HistoryRecords)
	}

	// Short of capacity: what came, and the reason; a request fleet does
	// not try again.
	noErr(t, e.sb.SetCapacity("m5.large", "", 3))
	short := create(5)
	e.sb.Advance(10 * time.Second)
	f := fleetData(t, e, short)
	if f.ActivityStatus != types.FleetActivityStatusError || aws.ToFloat64(f.FulfilledCapacity) != 3 ||
		len(f.Errors) != 1 || aws.ToString(f.Errors[0].ErrorCode) != "InsufficientInstanceCapacity" {
		t.Fatalf("short fleet: %v capacity %v errors %+v", f.ActivityStatus, aws.ToFloat64(f.FulfilledCapacity), f.Errors)
	}
	e.sb.ClearCapacity()
	e.sb.Advance(time.Hour)
	if got := fleetInstances(t, e, short); len(got) != 3 {
		t.Fatalf("request fleet retried: %d instances", len(got))
	}
}

func TestMaintainFleetReplacesButNotBelowALoweredTarget(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	fid := maintainFleet(t, e, target(10, 0, types.DefaultTargetCapacityTypeOnDemand))
	first := fleetInstances(t, e, fid)
	if len(first) != 10 {
		t.Fatalf("maintain fleet launched %d", len(first))
	}
	must(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: first[:1]}))
	now := fleetInstances(t, e, fid)
	if len(now) != 10 || slices.Contains(now, first[0]) {
		t.Fatalf("after a termination: %d instances, terminated one still in: %v", len(now), slices.Contains(now, first[0]))
	}

	// Shrink first without terminating, then terminate 4: no replacement.
	must(e.ec2.ModifyFleet(ctx, &ec2.ModifyFleetInput{FleetId: aws.String(fid),
		TargetCapacitySpecification:     &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(6)},
		ExcessCapacityTerminationPolicy: types.FleetExcessCapacityTerminationPolicyNoTermination}))
	if got := fleetInstances(t, e, fid); len(got) != 10 {
		t.Fatalf("no-termination shrink terminated: %d left", len(got))
	}
	must(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: now[:4]}))
	e.sb.Advance(time.Hour)
	if got := fleetInstances(t, e, fid); len(got) != 6 || len(e.sb.InstancesWithTag("aws:ec2:fleet-id", fid)) != 6 {
		t.Fatalf("after returning 4: %d in fleet, %d tagged", len(got), len(e.sb.InstancesWithTag("aws:ec2:fleet-id", fid)))
	}

	// The termination policy (EC2's default) ends what is above a lowered target.
	must(e.ec2.ModifyFleet(ctx, &ec2.ModifyFleetInput{FleetId: aws.String(fid),
		TargetCapacitySpecification:     &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(4)},
		ExcessCapacityTerminationPolicy: types.FleetExcessCapacityTerminationPolicyTermination}))
	if got := fleetInstances(t, e, fid); len(got) != 4 {
		t.Fatalf("terminating shrink: %d left", len(got))
	}

	del := must(e.ec2.DeleteFleets(ctx, &ec2.DeleteFleetsInput{FleetIds: []string{fid, "fleet-nosuch"}, TerminateInstances: aws.Bool(true)}))
	if len(del.SuccessfulFleetDeletions) != 1 || del.SuccessfulFleetDeletions[0].PreviousFleetState != types.FleetStateCodeActive ||
		len(del.UnsuccessfulFleetDeletions) != 1 || del.UnsuccessfulFleetDeletions[0].Error.Code != types.DeleteFleetErrorCodeFleetIdDoesNotExist {
		t.Fatalf("DeleteFleets = %+v", del)
	}
	if f := fleetData(t, e, fid); f.FleetState != types.FleetStateCodeDeleted {
		t.Fatalf("deleted fleet state %v", f.FleetState)
	}
	for _, in := range e.sb.InstancesWithTag("aws:ec2:fleet-id", fid) {
		if in.State != sandbox.StateTerminated {
			t.Errorf("%s %s after DeleteFleets with termination", in.ID, in.State)
		}
	}
	var fs []sandbox.Fleet
	control(t, e, "GET", "/_sandbox/fleets", "", &fs)
	if len(fs) != 1 || fs[0].State != "deleted" || fs[0].Kind != "ec2-fleet" || len(fs[0].InstanceIDs) != 0 {
		t.Fatalf("GET /_sandbox/fleets = %+v", fs)
	}
	_, err := e.ec2.DescribeFleets(ctx, &ec2.DescribeFleetsInput{FleetIds: []string{"fleet-nosuch"}})
	wantCode(t, err, "InvalidFleetId.NotFound")

	// Deleted fleets are forgotten with their last instance.
	e.sb.Advance(time.Hour)
	run(t, e, &ec2.RunInstancesInput{})
	_, err = e.ec2.DescribeFleets(ctx, &ec2.DescribeFleetsInput{FleetIds: []string{fid}})
	wantCode(t, err, "InvalidFleetId.NotFound")
}

func TestFleetWeightsAndOnDemandSpotSplit(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := template(t, e, "ohfp-lt")

	// Weight 4 toward 10 units: 3 instances, 12 units.
	out := must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
		Type:                        types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeC52xlarge, 4)),
		TargetCapacitySpecification: target(10, 0, types.DefaultTargetCapacityTypeOnDemand),
	}))
	if len(out.Instances) != 1 || len(out.Instances[0].InstanceIds) != 3 {
		t.Fatalf("weighted instant fleet: %+v", out.Instances)
	}
	if f := fleetData(t, e, aws.ToString(out.FleetId)); aws.ToFloat64(f.FulfilledCapacity) != 12 {
		t.Fatalf("fulfilled capacity %v, want 12", aws.ToFloat64(f.FulfilledCapacity))
	}

	// 30% of 10 on-demand: 3 on-demand, 7 spot with spot requests.
	out = must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
		Type:                        types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(10, 3, types.DefaultTargetCapacityTypeSpot),
	}))
	count := map[types.InstanceLifecycle]int{}
	var spot []string
	for _, l := range out.Instances {
		count[l.Lifecycle] += len(l.InstanceIds)
		if l.Lifecycle == types.InstanceLifecycleSpot {
			spot = append(spot, l.InstanceIds...)
		}
	}
	if count[types.InstanceLifecycleOnDemand] != 3 || count[types.InstanceLifecycleSpot] != 7 {
		t.Fatalf("split = %v", count)
	}
	reqs := must(e.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: spot}}}))
	if len(reqs.SpotInstanceRequests) != 7 {
		t.Fatalf("%d spot requests for 7 spot instances", len(reqs.SpotInstanceRequests))
	}
}

func TestFleetClientToken(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := template(t, e, "ohfp-lt")
	in := &ec2.CreateFleetInput{
		ClientToken:                 aws.String("tok-1"),
		Type:                        types.FleetTypeInstant,
		LaunchTemplateConfigs:       ltConfig(id, over(types.InstanceTypeM5Large, 1)),
		TargetCapacitySpecification: target(2, 0, types.DefaultTargetCapacityTypeOnDemand),
	}
	a := must(e.ec2.CreateFleet(ctx, in))
	b := must(e.ec2.CreateFleet(ctx, in))
	if aws.ToString(a.FleetId) != aws.ToString(b.FleetId) || len(e.sb.Instances()) != 2 {
		t.Fatalf("same token: fleets %s %s, %d instances", aws.ToString(a.FleetId), aws.ToString(b.FleetId), len(e.sb.Instances()))
	}
	in.TargetCapacitySpecification = target(3, 0, types.DefaultTargetCapacityTypeOnDemand)
	_, err := e.ec2.CreateFleet(ctx, in)
	wantCode(t, err, "IdempotentParameterMismatch")

	spot := &ec2.RequestSpotFleetInput{SpotFleetRequestConfig: &types.SpotFleetRequestConfigData{
		ClientToken: aws.String("tok-1"), IamFleetRole: aws.String("arn:aws:iam::123456789012:role/fleet"), TargetCapacity: aws.Int32(1),
		LaunchTemplateConfigs: []types.LaunchTemplateConfig{{LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecification{LaunchTemplateId: aws.String(id)}}},
	}}
	c := must(e.ec2.RequestSpotFleet(ctx, spot))
	d := must(e.ec2.RequestSpotFleet(ctx, spot))
	if aws.ToString(c.SpotFleetRequestId) != aws.ToString(d.SpotFleetRequestId) || len(e.sb.Fleets()) != 2 {
		t.Fatalf("same spot fleet token: %s %s, %d fleets", aws.ToString(c.SpotFleetRequestId), aws.ToString(d.SpotFleetRequestId), len(e.sb.Fleets()))
	}
}

func TestSpotFleetRequestAndMaintain(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := template(t, e, "ohfp-lt", "ohfp:template", "t1")
	request := func(typ types.FleetType, total int32) string {
		return aws.ToString(must(e.ec2.RequestSpotFleet(ctx, &ec2.RequestSpotFleetInput{SpotFleetRequestConfig: &types.SpotFleetRequestConfigData{
			IamFleetRole:           aws.String("arn:aws:iam::123456789012:role/fleet"),
			TargetCapacity:         aws.Int32(total),
			OnDemandTargetCapacity: aws.Int32(1),
			Type:                   typ,
			AllocationStrategy:     types.AllocationStrategyCapacityOptimized,
			LaunchTemplateConfigs: []types.LaunchTemplateConfig{{
				LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("1")},
				Overrides: []types.LaunchTemplateOverrides{
					{InstanceType: types.InstanceTypeM5Large, SubnetId: aws.String(sandbox.DefaultSubnetIDs[1]), WeightedCapacity: aws.Float64(1)},
				},
			}},
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSpotFleetRequest, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}},
		}})).SpotFleetRequestId)
	}
	active := func(id string) []types.ActiveInstance {
		return must(e.ec2.DescribeSpotFleetInstances(ctx, &ec2.DescribeSpotFleetInstancesInput{SpotFleetRequestId: aws.String(id)})).ActiveInstances
	}

	maintain := request(types.FleetTypeMaintain, 4)
	got := active(maintain)
	spot := 0
	var spotIDs []string
	for _, in := range got {
		if in.SpotInstanceRequestId != nil {
			spot++
			spotIDs = append(spotIDs, aws.ToString(in.InstanceId))
		}
	}
	if len(got) != 4 || spot != 3 {
		t.Fatalf("spot fleet: %d instances, %d spot", len(got), spot)
	}
	for _, in := range e.sb.InstancesWithTag("aws:ec2spot:fleet-request-id", maintain) {
		if in.Tags["ohfp:template"] != "t1" || in.SubnetID != sandbox.DefaultSubnetIDs[1] {
			t.Errorf("%s: tags %v subnet %s", in.ID, in.Tags, in.SubnetID)
		}
	}

	// An interrupted spot instance is replaced once it is gone.
	noErr(t, e.sb.Interrupt(spotIDs[0]))
	e.sb.Advance(sandbox.DefaultSpotNotice)
	if now := active(maintain); len(now) != 4 || slices.ContainsFunc(now, func(in types.ActiveInstance) bool { return aws.ToString(in.InstanceId) == spotIDs[0] }) {
		t.Fatalf("after interruption: %d active", len(now))
	}

	must(e.ec2.ModifySpotFleetRequest(ctx, &ec2.ModifySpotFleetRequestInput{SpotFleetRequestId: aws.String(maintain),
		TargetCapacity: aws.Int32(2), ExcessCapacityTerminationPolicy: types.ExcessCapacityTerminationPolicyNoTermination}))
	must(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: spotIDs[1:3]}))
	e.sb.Advance(time.Minute)
	if now := active(maintain); len(now) != 2 {
		t.Fatalf("after shrink and 2 returns: %d active", len(now))
	}
	desc := must(e.ec2.DescribeSpotFleetRequests(ctx, &ec2.DescribeSpotFleetRequestsInput{SpotFleetRequestIds: []string{maintain}})).SpotFleetRequestConfigs[0]
	if desc.SpotFleetRequestState != types.BatchStateActive || aws.ToInt32(desc.SpotFleetRequestConfig.TargetCapacity) != 2 ||
		aws.ToFloat64(desc.SpotFleetRequestConfig.FulfilledCapacity) != 2 || desc.ActivityStatus != types.ActivityStatusFulfilled || tagValue(desc.Tags, "k") != "v" {
		t.Fatalf("described: %+v %+v", desc, desc.SpotFleetRequestConfig)
	}

	// A request fleet short of spot capacity reports the error.
	noErr(t, e.sb.SetCapacity("m5.large", "", 2))
	short := request(types.FleetTypeRequest, 4)
	if now := active(short); len(now) != 2 {
		t.Fatalf("short request fleet: %d active", len(now))
	}
	desc = must(e.ec2.DescribeSpotFleetRequests(ctx, &ec2.DescribeSpotFleetRequestsInput{SpotFleetRequestIds: []string{short}})).SpotFleetRequestConfigs[0]
	if desc.ActivityStatus != types.ActivityStatusError {
		t.Fatalf("short request fleet activity %v", desc.ActivityStatus)
	}
	hist := must(e.ec2.DescribeSpotFleetRequestHistory(ctx, &ec2.DescribeSpotFleetRequestHistoryInput{SpotFleetRequestId: aws.String(short),
		StartTime: aws.Time(time.Unix(0, 0)), EventType: types.EventTypeError})).HistoryRecords
	if len(hist) != 1 || !strings.Contains(aws.ToString(hist[0].EventInformation.EventDescription), "InsufficientInstanceCapacity: We currently do not have sufficient m5.large capacity") {
		t.Fatalf("error history = %+v", hist)
	}

	cancel := must(e.ec2.CancelSpotFleetRequests(ctx, &ec2.CancelSpotFleetRequestsInput{SpotFleetRequestIds: []string{maintain, short}, TerminateInstances: aws.Bool(true)}))
	if len(cancel.SuccessfulFleetRequests) != 2 || cancel.SuccessfulFleetRequests[0].CurrentSpotFleetRequestState != types.BatchStateCancelled {
		t.Fatalf("cancel = %+v", cancel.SuccessfulFleetRequests)
	}
	if now := active(maintain); len(now) != 0 {
		t.Fatalf("cancelled with termination: %d active", len(now))
	}
	_, err := e.ec2.DescribeSpotFleetInstances(ctx, &ec2.DescribeSpotFleetInstancesInput{SpotFleetRequestId: aws.String("sfr-nosuch")})
	wantCode(t, err, "InvalidSpotFleetRequestId.NotFound")
}

func TestSpotFleetLaunchSpecifications(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	id := aws.ToString(must(e.ec2.RequestSpotFleet(ctx, &ec2.RequestSpotFleetInput{SpotFleetRequestConfig: &types.SpotFleetRequestConfigData{
		IamFleetRole:   aws.String("arn:aws:iam::123456789012:role/fleet"),
		TargetCapacity: aws.Int32(4),
		Type:           types.FleetTypeRequest,
		LaunchSpecifications: []types.SpotFleetLaunchSpecification{{
			ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeC5Xlarge,
			SubnetId: aws.String(sandbox.DefaultSubnetIDs[2]), WeightedCapacity: aws.Float64(2),
			SecurityGroups:    []types.GroupIdentifier{{GroupId: aws.String(sandbox.DefaultSecurityGroupID)}},
			TagSpecifications: []types.SpotFleetTagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("spec"), Value: aws.String("1")}}}},
		}},
	}})).SpotFleetRequestId)
	got := e.sb.InstancesWithTag("aws:ec2spot:fleet-request-id", id)
	if len(got) != 2 || !got[0].Spot || got[0].Type != "c5.xlarge" || got[0].Tags["spec"] != "1" || got[0].Zone != "us-east-1c" {
		t.Fatalf("instances = %+v", got)
	}
}

func TestMaintainFleetUnderConcurrentCalls(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	fid := maintainFleet(t, e, target(20, 10, types.DefaultTargetCapacityTypeSpot))
	first := fleetInstances(t, e, fid)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: first[2*i : 2*i+2]}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := e.ec2.DescribeFleets(ctx, &ec2.DescribeFleetsInput{FleetIds: []string{fid}}); err != nil {
				t.Error(err)
			}
			e.sb.Fleets()
		})
	}
	wg.Wait()
	now := fleetInstances(t, e, fid)
	if len(now) != 20 || slices.ContainsFunc(now, func(id string) bool { return slices.Contains(first, id) }) {
		t.Fatalf("after replacing all 20: %d active, old ones among them", len(now))
	}
}
