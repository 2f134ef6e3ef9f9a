package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

const (
	// groupBatch is the most groups one DescribeAutoScalingGroups names.
	groupBatch = 100
	// detachBatch is the most instances one DetachInstances takes.
	detachBatch = 20
	// codeGroupExists answers a group name already taken.
	codeGroupExists = "AlreadyExists"
)

// groupName is the name of a request's Auto Scaling group.
func groupName(requestID string) string { return "ohfp-" + requestID }

// autoScalingGroup launches spec as an Auto Scaling group of exactly the
// count: MinSize 0, so that returned machines can leave it with its
// desired capacity lowered, and MaxSize the count, so that it never grows.
// The group replaces instances that fail on their own; returned ones are
// detached first and never replaced.
//
//ohfp:iam ASG
func (p *Provider) autoScalingGroup(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	ls, err := p.buildLaunchSpec(ctx, spec)
	if err != nil {
		return cloud.Placement{}, err
	}
	shape := p.shape(ctx, spec.Count, spec.Template, ls)
	lt, ephemeral, err := p.launchTemplate(ctx, spec, ls)
	if err != nil {
		return cloud.Placement{}, err
	}
	name := groupName(spec.RequestID)
	_, err = p.asg.CreateAutoScalingGroup(ctx, createGroupInput(spec, name, ls, shape, lt))
	switch {
	case apiCode(err) == codeGroupExists:
		// A replay of the same request: its group is already there.
	case err != nil:
		p.dropLaunchTemplate(ctx, ephemeral)
		return cloud.Placement{}, awsError("autoscaling:CreateAutoScalingGroup", err)
	}
	ref := placementRef{kind: refGroup, id: name, launchTemplate: ephemeral}
	p.log.Info("auto scaling group created", "request_id", spec.RequestID, "group", name,
		"on_demand", shape.onDemand, "spot", shape.spot)
	return cloud.Placement{Ref: ref.String(), Ongoing: true}, nil
}

// createGroupInput is the group of shape's machines from lt: a mixed
// instances policy with the types and the on-demand/spot split, or the
// launch template alone when it names the type and all is on-demand.
func createGroupInput(spec cloud.LaunchSpec, name string, ls *launchSpec, shape fleetShape, lt *types.LaunchTemplateSpecification) *autoscaling.CreateAutoScalingGroupInput {
	t := spec.Template
	count := awssdk.Int32(int32(shape.total()))
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: awssdk.String(name),
		MinSize:              awssdk.Int32(0),
		MaxSize:              count,
		DesiredCapacity:      count,
		VPCZoneIdentifier:    optional(strings.Join(shape.subnets(), ",")),
	}
	for _, tag := range ls.tags {
		in.Tags = append(in.Tags, astypes.Tag{
			Key: tag.Key, Value: tag.Value, PropagateAtLaunch: awssdk.Bool(true),
			ResourceId: awssdk.String(name), ResourceType: awssdk.String("auto-scaling-group"),
		})
	}
	from := &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId, Version: lt.Version}
	itypes := shape.types()
	if len(itypes) == 0 && shape.spot == 0 {
		in.LaunchTemplate = from // the template's own names the type
		return in
	}
	strategy, pools := kebab(t.AllocationStrategy), t.PoolsCount
	if strategy == "diversified" {
		// Auto Scaling has no diversified: it spreads over pools with
		// lowest-price, over at most 20 of them.
		strategy, pools = "lowest-price", min(cmp.Or(pools, len(itypes)), config.MaxGroupSpotPools)
	}
	dist := &astypes.InstancesDistribution{
		OnDemandBaseCapacity:                awssdk.Int32(int32(shape.onDemand)),
		OnDemandPercentageAboveBaseCapacity: awssdk.Int32(0),
		OnDemandAllocationStrategy:          optional(kebab(onDemandStrategy(t))),
		SpotAllocationStrategy:              optional(strategy),
		SpotMaxPrice:                        optional(t.MaxSpotPrice),
	}
	if pools > 0 && strategy == "lowest-price" {
		dist.SpotInstancePools = awssdk.Int32(int32(pools))
	}
	in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{
		LaunchTemplate:        &astypes.LaunchTemplate{LaunchTemplateSpecification: from, Overrides: groupOverrides(itypes)},
		InstancesDistribution: dist,
	}
	return in
}

// groupOverrides lists the group's types, each one capacity unit.
func groupOverrides(itypes []string) []astypes.LaunchTemplateOverrides {
	out := make([]astypes.LaunchTemplateOverrides, len(itypes))
	for i, it := range itypes {
		out[i] = astypes.LaunchTemplateOverrides{InstanceType: awssdk.String(it), WeightedCapacity: awssdk.String("1")}
	}
	return out
}

// groupFulfilment describes the groups of refs, groupBatch at a call.
//
//ohfp:iam ASG
func (p *Provider) groupFulfilment(ctx context.Context, refs []placementRef, out map[string]cloud.Fulfilment) error {
	return followBatched(ctx, refs, out, groupBatch, "Auto Scaling group", p.describeGroups,
		func(g *astypes.AutoScalingGroup) string { return awssdk.ToString(g.AutoScalingGroupName) }, p.groupProgress)
}

// describeGroups describes the groups names (at most groupBatch), every page.
func (p *Provider) describeGroups(ctx context.Context, names []string) ([]astypes.AutoScalingGroup, error) {
	pages := autoscaling.NewDescribeAutoScalingGroupsPaginator(p.asg, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: names,
		MaxRecords:            awssdk.Int32(groupBatch),
	})
	// Auto Scaling leaves unknown names out of its answer.
	groups, err := allPages(ctx, pages, p.asgDescribeOpts, func(o *autoscaling.DescribeAutoScalingGroupsOutput) []astypes.AutoScalingGroup {
		return o.AutoScalingGroups
	})
	if err != nil {
		return nil, awsError("autoscaling:DescribeAutoScalingGroups", err)
	}
	return groups, nil
}

// groupProgress judges one group. A group short of its desired capacity
// retries for ever, so it is done when, with nothing pending, its launches
// failed, or once INSTANCE_CREATION_TIMEOUT has passed; it is then shrunk
// to what it holds, so that nothing it launches later goes unreported.
func (p *Provider) groupProgress(ctx context.Context, g *astypes.AutoScalingGroup) cloud.Fulfilment {
	var f cloud.Fulfilment
	desired := int(awssdk.ToInt32(g.DesiredCapacity))
	inService, pending := 0, 0
	for _, in := range g.Instances {
		switch {
		case in.LifecycleState == astypes.LifecycleStateInService:
			inService++
		case strings.HasPrefix(string(in.LifecycleState), "Pending"):
			pending++
		}
	}
	if inService+pending >= desired {
		return f
	}
	name := awssdk.ToString(g.AutoScalingGroupName)
	overdue := p.overdue(g.CreatedTime)
	if pending > 0 && !overdue {
		return f
	}
	f.Errors = p.groupErrors(ctx, name)
	if len(f.Errors) == 0 && !overdue {
		return f
	}
	f.Done = true
	if overdue {
		f.Errors = append(f.Errors, fmt.Sprintf("Auto Scaling group %s had %d of %d machines after %s.", name, inService, desired, p.creationTimeout))
	}
	held := awssdk.Int32(int32(inService + pending))
	if _, err := p.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: awssdk.String(name), DesiredCapacity: held, MaxSize: held,
	}); err != nil {
		p.log.Warn("shrinking a group that stopped short", "group", name, "err", awsError("autoscaling:UpdateAutoScalingGroup", err))
	}
	return f
}

// groupErrors reads the failed scaling activities of a group. They are a
// nicety: failing to read them only loses the reasons.
func (p *Provider) groupErrors(ctx context.Context, name string) []string {
	out, err := p.asg.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: awssdk.String(name),
	}, p.asgDescribeOpts...)
	if err != nil {
		p.log.Warn("reading a group's scaling activities", "group", name, "err", err)
		return nil
	}
	var reasons []string
	for _, a := range out.Activities {
		if a.StatusCode != astypes.ScalingActivityStatusCodeFailed {
			continue
		}
		if text := awssdk.ToString(a.StatusMessage); text != "" && !slices.Contains(reasons, text) {
			reasons = append(reasons, text)
		}
	}
	return reasons
}

// releaseGroup takes the instances of ids that are in the group out of
// it, with its desired capacity lowered by as many, so that it replaces
// none of them. Auto Scaling detaches only InService and Standby
// instances, 20 a call; a Pending one is terminated through the group
// instead; one already Terminating is on its way out. The broker then
// terminates the detached ones.
//
//ohfp:iam ASG
func (p *Provider) releaseGroup(ctx context.Context, r placementRef, ids []string) error {
	groups, err := p.describeGroups(ctx, []string{r.id})
	if err != nil || len(groups) == 0 {
		return err
	}
	state := map[string]astypes.LifecycleState{}
	for _, in := range groups[0].Instances {
		state[awssdk.ToString(in.InstanceId)] = in.LifecycleState
	}
	var detach, pending []string
	for _, id := range ids {
		switch st, member := state[id]; {
		case !member:
		case st == astypes.LifecycleStateInService || st == astypes.LifecycleStateStandby:
			detach = append(detach, id)
		case strings.HasPrefix(string(st), "Pending"):
			pending = append(pending, id)
		}
	}
	var errs []error
	for batch := range slices.Chunk(detach, detachBatch) {
		if _, err := p.asg.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
			AutoScalingGroupName:           awssdk.String(r.id),
			InstanceIds:                    batch,
			ShouldDecrementDesiredCapacity: awssdk.Bool(true),
		}); err != nil {
			errs = append(errs, awsError("autoscaling:DetachInstances", err))
		}
	}
	for _, id := range pending {
		if _, err := p.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId:                     awssdk.String(id),
			ShouldDecrementDesiredCapacity: awssdk.Bool(true),
		}); err != nil {
			errs = append(errs, awsError("autoscaling:TerminateInstanceInAutoScalingGroup "+id, err))
		}
	}
	if len(detach)+len(pending) > 0 {
		p.log.Info("instances taken out of their group", "group", r.id, "detached", detach, "terminated", pending)
	}
	return errors.Join(errs...)
}

// deleteGroup deletes a group; one already gone is nothing to do.
//
//ohfp:iam ASG
func (p *Provider) deleteGroup(ctx context.Context, name string) error {
	_, err := p.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: awssdk.String(name),
		ForceDelete:          awssdk.Bool(true),
	})
	switch {
	case err == nil:
		p.log.Info("auto scaling group deleted", "group", name)
		return nil
	case isGroupNotFound(err):
		return nil
	default:
		return awsError("autoscaling:DeleteAutoScalingGroup", err)
	}
}

// isGroupNotFound tells Auto Scaling's answer for an unknown group, a
// ValidationError that only its message distinguishes.
func isGroupNotFound(err error) bool {
	code, msg := apiError(err)
	return code == "ValidationError" && strings.Contains(strings.ToLower(msg), "not found")
}
