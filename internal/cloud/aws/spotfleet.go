package aws

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// spotFleet launches spec with RequestSpotFleet from an ephemeral launch
// template; the fleet launches on its own, followed through Fulfilment.
//
//ohfp:iam SpotFleet
func (p *Provider) spotFleet(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	t := spec.Template
	ls, err := p.buildLaunchSpec(ctx, spec)
	if err != nil {
		return cloud.Placement{}, err
	}
	if ls.launchTemplate != nil {
		// A Spot Fleet tags instances only through its launch template,
		// and ohfp finds instances by those tags.
		return cloud.Placement{}, fault.New(fault.Configuration,
			"template %s: launchTemplateId cannot carry ohfp's instance tags with SpotFleet: use providerApi ASG, or imageId instead", t.ID)
	}
	if err := p.checkZones(ctx, t); err != nil {
		return cloud.Placement{}, err
	}
	shape := p.shape(ctx, spec.Count, t, ls)
	lt, ephemeral, err := p.launchTemplate(ctx, spec, ls)
	if err != nil {
		return cloud.Placement{}, err
	}
	out, err := p.ec2.RequestSpotFleet(ctx, &ec2.RequestSpotFleetInput{SpotFleetRequestConfig: spotFleetConfig(spec, ls, shape, lt)})
	if err != nil {
		p.dropLaunchTemplate(ctx, ephemeral)
		return cloud.Placement{}, awsError("ec2:RequestSpotFleet", err)
	}
	ref := placementRef{kind: refSpotFleet, id: awssdk.ToString(out.SpotFleetRequestId), launchTemplate: ephemeral}
	p.log.Info("spot fleet requested", "request_id", spec.RequestID, "spot_fleet_request_id", ref.id,
		"type", t.Fleet(), "on_demand", shape.onDemand, "spot", shape.spot)
	return cloud.Placement{Ref: ref.String(), Ongoing: true}, nil
}

// spotFleetConfig asks for shape's machines from lt, one override per
// viable slot.
func spotFleetConfig(spec cloud.LaunchSpec, ls *launchSpec, shape fleetShape, lt *types.LaunchTemplateSpecification) *types.SpotFleetRequestConfigData {
	t := spec.Template
	overrides := make([]types.LaunchTemplateOverrides, len(shape.slots))
	for i, sl := range shape.slots {
		overrides[i] = types.LaunchTemplateOverrides{
			InstanceType:     types.InstanceType(sl.instanceType),
			SubnetId:         optional(sl.subnetID),
			WeightedCapacity: awssdk.Float64(1),
			Priority:         shape.priority(sl),
		}
	}
	c := &types.SpotFleetRequestConfigData{
		IamFleetRole:   awssdk.String(t.FleetRole),
		TargetCapacity: awssdk.Int32(int32(shape.total())),
		Type:           types.FleetType(t.Fleet()),
		ClientToken:    optional(attemptToken(spec.ClientToken, 0)),
		LaunchTemplateConfigs: []types.LaunchTemplateConfig{{
			LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecification{
				LaunchTemplateId: lt.LaunchTemplateId,
				Version:          lt.Version,
			},
			Overrides: overrides,
		}},
		AllocationStrategy:               types.AllocationStrategy(t.AllocationStrategy),
		SpotPrice:                        optional(t.MaxSpotPrice),
		TerminateInstancesWithExpiration: awssdk.Bool(false),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeSpotFleetRequest, Tags: ls.tags},
		},
	}
	if shape.onDemand > 0 {
		c.OnDemandTargetCapacity = awssdk.Int32(int32(shape.onDemand))
		c.OnDemandAllocationStrategy = types.OnDemandAllocationStrategy(onDemandStrategy(t))
	}
	if t.Fleet() == config.FleetMaintain {
		// Spot Fleet takes a policy for maintain fleets only.
		c.ExcessCapacityTerminationPolicy = types.ExcessCapacityTerminationPolicyNoTermination
	}
	c.InstancePoolsToUseCount = spotPools(t)
	if t.SpotFleetRequestExpiry > 0 {
		c.ValidUntil = awssdk.Time(time.Now().Add(time.Duration(t.SpotFleetRequestExpiry) * time.Minute).Truncate(time.Minute))
	}
	return c
}

// spotFleetFulfilment describes the spot fleet requests of refs,
// fleetBatch at a call.
//
//ohfp:iam SpotFleet
func (p *Provider) spotFleetFulfilment(ctx context.Context, refs []placementRef, out map[string]cloud.Fulfilment) error {
	return followBatched(ctx, refs, out, fleetBatch, "Spot Fleet request", p.describeSpotFleets,
		func(c *types.SpotFleetRequestConfig) string { return awssdk.ToString(c.SpotFleetRequestId) }, p.spotFleetProgress)
}

// describeSpotFleets describes the spot fleet requests ids, every page;
// requests EC2 no longer knows are left out.
func (p *Provider) describeSpotFleets(ctx context.Context, ids []string) ([]types.SpotFleetRequestConfig, error) {
	return known(ids, codeSpotFleetNotFound, "ec2:DescribeSpotFleetRequests", func(ids []string) ([]types.SpotFleetRequestConfig, error) {
		pages := ec2.NewDescribeSpotFleetRequestsPaginator(p.ec2, &ec2.DescribeSpotFleetRequestsInput{SpotFleetRequestIds: ids})
		return allPages(ctx, pages, p.describeOpts, func(o *ec2.DescribeSpotFleetRequestsOutput) []types.SpotFleetRequestConfig {
			return o.SpotFleetRequestConfigs
		})
	})
}

// spotFleetProgress judges one spot fleet request as ec2FleetProgress
// judges an EC2 Fleet. Its errors are in its history, read only for a
// fleet that stopped short.
func (p *Provider) spotFleetProgress(ctx context.Context, c *types.SpotFleetRequestConfig) cloud.Fulfilment {
	var f cloud.Fulfilment
	data := c.SpotFleetRequestConfig
	if data == nil {
		data = &types.SpotFleetRequestConfigData{}
	}
	id := awssdk.ToString(c.SpotFleetRequestId)
	target := int(awssdk.ToInt32(data.TargetCapacity))
	fulfilled := int(awssdk.ToFloat64(data.FulfilledCapacity))
	short := fulfilled < target && c.ActivityStatus != types.ActivityStatusFulfilled
	switch c.SpotFleetRequestState {
	case types.BatchStateCancelled, types.BatchStateCancelledRunning,
		types.BatchStateCancelledTerminatingInstances, types.BatchStateFailed:
		f.Done = true
		if short {
			f.Errors = append(p.spotFleetErrors(ctx, id, c.CreateTime), fmt.Sprintf("Spot Fleet request %s is %s.", id, c.SpotFleetRequestState))
		}
		return f
	}
	overdue := p.overdue(c.CreateTime)
	if !short || c.ActivityStatus != types.ActivityStatusError && !overdue {
		return f
	}
	f.Done = true
	f.Errors = p.spotFleetErrors(ctx, id, c.CreateTime)
	if overdue {
		f.Errors = append(f.Errors, fmt.Sprintf("Spot Fleet request %s had %d of %d machines after %s.", id, fulfilled, target, p.creationTimeout))
	}
	if data.Type == types.FleetTypeMaintain {
		p.settleSpotFleet(ctx, id)
	}
	return f
}

// spotFleetErrors reads the errors in a spot fleet request's history. The
// history is a nicety: failing to read it only loses the reasons.
func (p *Provider) spotFleetErrors(ctx context.Context, id string, since *time.Time) []string {
	out, err := p.ec2.DescribeSpotFleetRequestHistory(ctx, &ec2.DescribeSpotFleetRequestHistoryInput{
		SpotFleetRequestId: awssdk.String(id),
		StartTime:          awssdk.Time(awssdk.ToTime(since)),
		EventType:          types.EventTypeError,
	}, p.describeOpts...)
	if err != nil {
		p.log.Warn("reading a spot fleet's errors", "spot_fleet_request_id", id, "err", err)
		return nil
	}
	return historyReasons(ctx, p, out.HistoryRecords, func(h *types.HistoryRecord) *types.EventInformation { return h.EventInformation })
}

// settleSpotFleet shrinks a maintain spot fleet that stopped short to the
// instances it holds, so that nothing it launches later goes unreported.
func (p *Provider) settleSpotFleet(ctx context.Context, id string) {
	held, err := p.spotFleetInstances(ctx, id)
	if err == nil {
		err = p.modifySpotFleet(ctx, id, int32(len(held)), nil)
	}
	if err != nil {
		p.log.Warn("shrinking a spot fleet that stopped short", "spot_fleet_request_id", id, "err", err)
	}
}

// modifySpotFleet sets a spot fleet's target capacity (and on-demand
// target, unless nil) without terminating anything.
func (p *Provider) modifySpotFleet(ctx context.Context, id string, total int32, onDemand *int32) error {
	_, err := p.ec2.ModifySpotFleetRequest(ctx, &ec2.ModifySpotFleetRequestInput{
		SpotFleetRequestId:              awssdk.String(id),
		TargetCapacity:                  awssdk.Int32(total),
		OnDemandTargetCapacity:          onDemand,
		ExcessCapacityTerminationPolicy: types.ExcessCapacityTerminationPolicyNoTermination,
	})
	if err != nil {
		return awsError("ec2:ModifySpotFleetRequest", err)
	}
	p.log.Info("spot fleet target lowered", "spot_fleet_request_id", id, "target", total)
	return nil
}

// releaseSpotFleet lowers a maintain spot fleet's target by the
// instances of ids it holds, so that it replaces none of them.
//
//ohfp:iam SpotFleet
func (p *Provider) releaseSpotFleet(ctx context.Context, r placementRef, ids []string) error {
	configs, err := p.describeSpotFleets(ctx, []string{r.id})
	if err != nil || len(configs) == 0 || configs[0].SpotFleetRequestConfig == nil {
		return err
	}
	c := &configs[0]
	live := c.SpotFleetRequestState == types.BatchStateActive || c.SpotFleetRequestState == types.BatchStateModifying ||
		c.SpotFleetRequestState == types.BatchStateSubmitted
	// EC2 modifies only maintain fleets, the only ones that replace.
	if !live || c.SpotFleetRequestConfig.Type != types.FleetTypeMaintain {
		return nil
	}
	held, err := p.spotFleetInstances(ctx, r.id)
	if err != nil {
		return err
	}
	data := c.SpotFleetRequestConfig
	return lower(ids, held, awssdk.ToInt32(data.TargetCapacity), awssdk.ToInt32(data.OnDemandTargetCapacity),
		func(total, onDemand int32) error {
			var od *int32
			if data.OnDemandTargetCapacity != nil {
				od = awssdk.Int32(onDemand)
			}
			return p.modifySpotFleet(ctx, r.id, total, od)
		})
}

// spotFleetInstances lists a spot fleet's active instances, each with
// whether it is spot.
func (p *Provider) spotFleetInstances(ctx context.Context, id string) (map[string]bool, error) {
	in := &ec2.DescribeSpotFleetInstancesInput{SpotFleetRequestId: awssdk.String(id), MaxResults: awssdk.Int32(fleetInstancesPage)}
	return activeInstances(func(next *string) ([]types.ActiveInstance, *string, error) {
		in.NextToken = next
		out, err := p.ec2.DescribeSpotFleetInstances(ctx, in, p.describeOpts...)
		if err != nil {
			return nil, nil, awsError("ec2:DescribeSpotFleetInstances", err)
		}
		return out.ActiveInstances, out.NextToken, nil
	})
}

// cancelSpotFleet cancels a spot fleet request, leaving its instances to
// the broker.
//
//ohfp:iam SpotFleet
func (p *Provider) cancelSpotFleet(ctx context.Context, id string) error {
	out, err := p.ec2.CancelSpotFleetRequests(ctx, &ec2.CancelSpotFleetRequestsInput{
		SpotFleetRequestIds: []string{id},
		TerminateInstances:  awssdk.Bool(false),
	})
	if err != nil {
		return awsError("ec2:CancelSpotFleetRequests", err)
	}
	for _, u := range out.UnsuccessfulFleetRequests {
		// Gone, or no longer cancellable: cancelled, expired or failed already.
		if u.Error != nil && u.Error.Code != types.CancelBatchErrorCodeFleetRequestIdDoesNotExist &&
			u.Error.Code != types.CancelBatchErrorCodeFleetRequestNotInCancellableState {
			return fault.New(fault.Cloud, "ec2:CancelSpotFleetRequests %s: %s: %s", id, u.Error.Code, awssdk.ToString(u.Error.Message))
		}
	}
	p.log.Info("spot fleet cancelled", "spot_fleet_request_id", id)
	return nil
}
