package aws

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

const (
	// fleetBatch is the most fleets one describe call names.
	fleetBatch = 100
	// fleetInstancesPage is the largest page of DescribeFleetInstances and
	// DescribeSpotFleetInstances.
	fleetInstancesPage = 1000
)

// ec2Fleet launches spec with CreateFleet from an ephemeral launch
// template (or the template's own, for instant fleets). An instant fleet
// answers its instances at once; request and maintain fleets launch on
// their own, followed through Fulfilment.
//
//ohfp:iam EC2Fleet
func (p *Provider) ec2Fleet(ctx context.Context, spec cloud.LaunchSpec) (cloud.Placement, error) {
	t := spec.Template
	instant := t.Fleet() == config.FleetInstant
	ls, err := p.buildLaunchSpec(ctx, spec)
	if err != nil {
		return cloud.Placement{}, err
	}
	if ls.launchTemplate != nil && !instant {
		// Only instant fleets tag instances at launch; the others take
		// their tags from the launch template, and ohfp finds instances by
		// those tags.
		return cloud.Placement{}, fault.New(fault.Configuration,
			"template %s: launchTemplateId cannot carry ohfp's instance tags with EC2Fleet %s: use fleetType instant, providerApi ASG, or imageId instead",
			t.ID, t.Fleet())
	}
	if err := p.checkZones(ctx, t); err != nil {
		return cloud.Placement{}, err
	}
	shape := p.shape(ctx, spec.Count, t, ls)
	lt, ephemeral, err := p.launchTemplate(ctx, spec, ls)
	if err != nil {
		return cloud.Placement{}, err
	}
	out, err := p.ec2.CreateFleet(ctx, ls.createFleetInput(spec, shape, lt, instant))
	if err != nil {
		p.dropLaunchTemplate(ctx, ephemeral)
		return cloud.Placement{}, awsError("ec2:CreateFleet", err)
	}
	ref := placementRef{kind: refEC2Fleet, id: awssdk.ToString(out.FleetId), launchTemplate: ephemeral}
	p.log.Info("fleet created", "request_id", spec.RequestID, "fleet_id", ref.id, "type", t.Fleet(),
		"on_demand", shape.onDemand, "spot", shape.spot)
	if !instant {
		return cloud.Placement{Ref: ref.String(), Ongoing: true}, nil
	}

	// An instant fleet is done: its launch template is needed no more.
	ref.instant = true
	if p.dropLaunchTemplate(ctx, ephemeral) {
		ref.launchTemplate = ""
	}
	var placed cloud.Placement
	// The answer names instances only; their launch is now, and the rest
	// comes with their first describe.
	now := p.now()
	for _, fi := range out.Instances {
		for _, id := range fi.InstanceIds {
			placed.Instances = append(placed.Instances, cloud.Instance{
				ID:           id,
				State:        cloud.Pending,
				LaunchTime:   now,
				InstanceType: string(fi.InstanceType),
				Spot:         fi.Lifecycle == types.InstanceLifecycleSpot,
			})
		}
	}
	refusals := make([]refusal, len(out.Errors))
	for i, e := range out.Errors {
		refusals[i] = fleetRefusal(e.ErrorCode, e.ErrorMessage, e.LaunchTemplateAndOverrides, e.Lifecycle)
	}
	reasons := p.reasons(ctx, refusals)
	if len(placed.Instances) == 0 {
		if err := p.Retire(ctx, ref.String()); err != nil {
			p.log.Warn("deleting an empty instant fleet", "fleet_id", ref.id, "err", err)
		}
		code := fault.ProvisioningFailed
		if len(refusals) > 0 && !slices.ContainsFunc(refusals, func(r refusal) bool { return !quotaCodes[r.code] }) {
			code = fault.QuotaExceeded // as RunInstances' refusals map
		}
		return cloud.Placement{}, fault.New(code, "ec2:CreateFleet launched no instance: %s",
			cmp.Or(strings.Join(reasons, "; "), "no reason given"))
	}
	placed.Ref = ref.String()
	// Short of the count, the fleet is followed once: Fulfilment then
	// reports why it fell short.
	placed.Ongoing = len(placed.Instances) < spec.Count
	if placed.Ongoing {
		p.log.Warn("launched fewer than asked", "request_id", spec.RequestID, "asked", spec.Count,
			"got", len(placed.Instances), "reasons", reasons)
	}
	return placed, nil
}

// createFleetInput asks for shape's machines from lt, one override per
// viable slot.
func (ls *launchSpec) createFleetInput(spec cloud.LaunchSpec, shape fleetShape, lt *types.LaunchTemplateSpecification, instant bool) *ec2.CreateFleetInput {
	t := spec.Template
	overrides := make([]types.FleetLaunchTemplateOverridesRequest, len(shape.slots))
	for i, sl := range shape.slots {
		overrides[i] = types.FleetLaunchTemplateOverridesRequest{
			InstanceType:     types.InstanceType(sl.instanceType),
			SubnetId:         optional(sl.subnetID),
			WeightedCapacity: awssdk.Float64(1),
			Priority:         shape.priority(sl),
		}
		if shape.spot > 0 {
			overrides[i].MaxPrice = optional(t.MaxSpotPrice)
		}
	}
	target := &types.TargetCapacitySpecificationRequest{
		TotalTargetCapacity:       awssdk.Int32(int32(shape.total())),
		OnDemandTargetCapacity:    awssdk.Int32(int32(shape.onDemand)),
		SpotTargetCapacity:        awssdk.Int32(int32(shape.spot)),
		DefaultTargetCapacityType: types.DefaultTargetCapacityTypeOnDemand,
	}
	if shape.spot > 0 {
		target.DefaultTargetCapacityType = types.DefaultTargetCapacityTypeSpot
	}
	in := &ec2.CreateFleetInput{
		Type:        types.FleetTypeInstant,
		ClientToken: optional(attemptToken(spec.ClientToken, 0)),
		LaunchTemplateConfigs: []types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{
				LaunchTemplateId: lt.LaunchTemplateId,
				Version:          lt.Version,
			},
			Overrides: overrides,
		}},
		TargetCapacitySpecification: target,
		TagSpecifications:           ls.tagSpecifications(types.ResourceTypeFleet),
	}
	if instant {
		// Instant fleets may tag their instances themselves, which matters
		// when the launch template is the user's.
		in.TagSpecifications = ls.tagSpecifications(types.ResourceTypeFleet, types.ResourceTypeInstance)
	} else {
		in.Type = types.FleetType(t.Fleet())
	}
	if t.Fleet() == config.FleetMaintain {
		// EC2 takes a policy for maintain fleets only.
		in.ExcessCapacityTerminationPolicy = types.FleetExcessCapacityTerminationPolicyNoTermination
	}
	if shape.spot > 0 {
		in.SpotOptions = &types.SpotOptionsRequest{
			AllocationStrategy:      types.SpotAllocationStrategy(kebab(t.AllocationStrategy)),
			InstancePoolsToUseCount: spotPools(t),
		}
	}
	if shape.onDemand > 0 {
		in.OnDemandOptions = &types.OnDemandOptionsRequest{AllocationStrategy: types.FleetOnDemandAllocationStrategy(kebab(onDemandStrategy(t)))}
	}
	return in
}

// fleetRefusal reads one error of an EC2 Fleet.
func fleetRefusal(code, message *string, lo *types.LaunchTemplateAndOverridesResponse, lifecycle types.InstanceLifecycle) refusal {
	r := refusal{code: awssdk.ToString(code), message: awssdk.ToString(message), spot: lifecycle == types.InstanceLifecycleSpot}
	if lo != nil {
		r.overrides = lo.Overrides
	}
	return r
}

// ec2FleetFulfilment describes the fleets of refs, fleetBatch at a call.
//
//ohfp:iam EC2Fleet
func (p *Provider) ec2FleetFulfilment(ctx context.Context, refs []placementRef, out map[string]cloud.Fulfilment) error {
	return followBatched(ctx, refs, out, fleetBatch, "EC2 Fleet", p.describeFleets,
		func(fd *types.FleetData) string { return awssdk.ToString(fd.FleetId) }, p.ec2FleetProgress)
}

// describeFleets describes the fleets ids (at most fleetBatch), every
// page; fleets EC2 no longer knows are left out.
func (p *Provider) describeFleets(ctx context.Context, ids []string) ([]types.FleetData, error) {
	return known(ids, codeFleetNotFound, "ec2:DescribeFleets", func(ids []string) ([]types.FleetData, error) {
		return allPages(ctx, ec2.NewDescribeFleetsPaginator(p.ec2, &ec2.DescribeFleetsInput{FleetIds: ids}), p.describeOpts,
			func(o *ec2.DescribeFleetsOutput) []types.FleetData { return o.Fleets })
	})
}

// ec2FleetProgress judges one fleet. It is done when it is instant, gone,
// in error, stopped trying with errors, or past INSTANCE_CREATION_TIMEOUT
// while short; a maintain fleet that stops short is shrunk to what it
// holds, so that nothing it launches later goes unreported. A fleet that
// is not short is left to the broker, which counts the instances it finds.
func (p *Provider) ec2FleetProgress(ctx context.Context, fd *types.FleetData) cloud.Fulfilment {
	refusals := make([]refusal, len(fd.Errors))
	for i, e := range fd.Errors {
		refusals[i] = fleetRefusal(e.ErrorCode, e.ErrorMessage, e.LaunchTemplateAndOverrides, e.Lifecycle)
	}
	f := cloud.Fulfilment{Errors: p.reasons(ctx, refusals)}
	target := 0
	if fd.TargetCapacitySpecification != nil {
		target = int(awssdk.ToInt32(fd.TargetCapacitySpecification.TotalTargetCapacity))
	}
	fulfilled := int(awssdk.ToFloat64(fd.FulfilledCapacity))
	short := fulfilled < target && fd.ActivityStatus != types.FleetActivityStatusFulfilled
	id := awssdk.ToString(fd.FleetId)
	switch fd.FleetState {
	case types.FleetStateCodeDeleted, types.FleetStateCodeDeletedRunning,
		types.FleetStateCodeDeletedTerminatingInstances, types.FleetStateCodeFailed:
		f.Done = true
		if short {
			f.Errors = append(f.Errors, fmt.Sprintf("EC2 Fleet %s is %s.", id, fd.FleetState))
		}
		return f
	}
	switch {
	case fd.Type == types.FleetTypeInstant:
		f.Done = true
	case !short:
	case fd.ActivityStatus == types.FleetActivityStatusError,
		len(f.Errors) > 0 && fd.ActivityStatus != types.FleetActivityStatusPendingFulfillment:
		f.Done = true
	case p.overdue(fd.CreateTime):
		f.Done = true
		f.Errors = append(f.Errors, fmt.Sprintf("EC2 Fleet %s had %d of %d machines after %s.", id, fulfilled, target, p.creationTimeout))
	}
	if f.Done && short && len(f.Errors) == 0 && fd.Type != types.FleetTypeInstant {
		// EC2 lists the errors of request and maintain fleets in their
		// history rather than in the fleet.
		f.Errors = p.ec2FleetErrors(ctx, id, fd.CreateTime)
	}
	if f.Done && short && fd.Type == types.FleetTypeMaintain {
		if err := p.modifyFleet(ctx, id, &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: awssdk.Int32(int32(fulfilled))}); err != nil {
			p.log.Warn("shrinking a fleet that stopped short", "fleet_id", id, "err", err)
		}
	}
	return f
}

// ec2FleetErrors reads the errors in an EC2 Fleet's history; failing to
// read it only loses the reasons.
func (p *Provider) ec2FleetErrors(ctx context.Context, id string, since *time.Time) []string {
	out, err := p.ec2.DescribeFleetHistory(ctx, &ec2.DescribeFleetHistoryInput{
		FleetId:   awssdk.String(id),
		StartTime: awssdk.Time(awssdk.ToTime(since)),
		EventType: types.FleetEventTypeServiceError,
	}, p.describeOpts...)
	if err != nil {
		p.log.Warn("reading a fleet's errors", "fleet_id", id, "err", err)
		return nil
	}
	return historyReasons(ctx, p, out.HistoryRecords, func(h *types.HistoryRecordEntry) *types.EventInformation { return h.EventInformation })
}

// modifyFleet sets a fleet's target capacity without terminating anything.
func (p *Provider) modifyFleet(ctx context.Context, id string, target *types.TargetCapacitySpecificationRequest) error {
	_, err := p.ec2.ModifyFleet(ctx, &ec2.ModifyFleetInput{
		FleetId:                         awssdk.String(id),
		TargetCapacitySpecification:     target,
		ExcessCapacityTerminationPolicy: types.FleetExcessCapacityTerminationPolicyNoTermination,
	})
	if err != nil {
		return awsError("ec2:ModifyFleet", err)
	}
	p.log.Info("fleet target lowered", "fleet_id", id, "target", awssdk.ToInt32(target.TotalTargetCapacity))
	return nil
}

// releaseEC2Fleet lowers a maintain fleet's target by the instances of
// ids it holds, so that it replaces none of them. Instant and request
// fleets replace nothing, and EC2 would refuse to modify them.
//
//ohfp:iam EC2Fleet
func (p *Provider) releaseEC2Fleet(ctx context.Context, r placementRef, ids []string) error {
	if r.instant {
		return nil
	}
	fleets, err := p.describeFleets(ctx, []string{r.id})
	if err != nil || len(fleets) == 0 {
		return err
	}
	fd := &fleets[0]
	live := fd.FleetState == types.FleetStateCodeActive || fd.FleetState == types.FleetStateCodeModifying ||
		fd.FleetState == types.FleetStateCodeSubmitted
	// EC2 modifies only maintain fleets, the only ones that replace.
	if !live || fd.Type != types.FleetTypeMaintain || fd.TargetCapacitySpecification == nil {
		return nil
	}
	held, err := p.fleetInstances(ctx, r.id)
	if err != nil {
		return err
	}
	tc := fd.TargetCapacitySpecification
	return lower(ids, held, awssdk.ToInt32(tc.TotalTargetCapacity), awssdk.ToInt32(tc.OnDemandTargetCapacity),
		func(total, onDemand int32) error {
			return p.modifyFleet(ctx, r.id, &types.TargetCapacitySpecificationRequest{
				TotalTargetCapacity:    awssdk.Int32(total),
				OnDemandTargetCapacity: awssdk.Int32(onDemand),
			})
		})
}

// lower computes a fleet's new targets once the instances ids leave it:
// held maps the fleet's instances to whether each is spot. set is called
// only when some of ids are the fleet's.
func lower(ids []string, held map[string]bool, total, onDemand int32, set func(total, onDemand int32) error) error {
	var n, od int32
	for _, id := range ids {
		spot, ok := held[id]
		if !ok {
			continue
		}
		n++
		if !spot {
			od++
		}
	}
	if n == 0 {
		return nil
	}
	return set(max(total-n, 0), max(onDemand-od, 0))
}

// fleetInstances lists a fleet's active instances, each with whether it
// is spot.
func (p *Provider) fleetInstances(ctx context.Context, id string) (map[string]bool, error) {
	in := &ec2.DescribeFleetInstancesInput{FleetId: awssdk.String(id), MaxResults: awssdk.Int32(fleetInstancesPage)}
	return activeInstances(func(next *string) ([]types.ActiveInstance, *string, error) {
		in.NextToken = next
		out, err := p.ec2.DescribeFleetInstances(ctx, in, p.describeOpts...)
		if err != nil {
			return nil, nil, awsError("ec2:DescribeFleetInstances", err)
		}
		return out.ActiveInstances, out.NextToken, nil
	})
}

// activeInstances reads every page of a fleet's active instances into a
// map of whether each is spot.
func activeInstances(page func(next *string) ([]types.ActiveInstance, *string, error)) (map[string]bool, error) {
	held := map[string]bool{}
	var next *string
	for {
		active, token, err := page(next)
		if err != nil {
			return nil, err
		}
		for _, a := range active {
			held[awssdk.ToString(a.InstanceId)] = awssdk.ToString(a.SpotInstanceRequestId) != ""
		}
		if awssdk.ToString(token) == "" {
			return held, nil
		}
		next = token
	}
}

// deleteEC2Fleet deletes a fleet. Its instances are the broker's to
// terminate, except an instant fleet's: EC2 deletes those only with them,
// and the broker retires a fleet only once none is alive.
//
//ohfp:iam EC2Fleet
func (p *Provider) deleteEC2Fleet(ctx context.Context, id string, instant bool) error {
	out, err := p.ec2.DeleteFleets(ctx, &ec2.DeleteFleetsInput{
		FleetIds:           []string{id},
		TerminateInstances: awssdk.Bool(instant),
	})
	if err != nil {
		return awsError("ec2:DeleteFleets", err)
	}
	for _, u := range out.UnsuccessfulFleetDeletions {
		// Gone, or no longer deletable: deleted or failed already.
		if u.Error != nil && u.Error.Code != types.DeleteFleetErrorCodeFleetIdDoesNotExist &&
			u.Error.Code != types.DeleteFleetErrorCodeFleetNotInDeletableState {
			return fault.New(fault.Cloud, "ec2:DeleteFleets %s: %s: %s", id, u.Error.Code, awssdk.ToString(u.Error.Message))
		}
	}
	p.log.Info("fleet deleted", "fleet_id", id)
	return nil
}

// dropLaunchTemplate deletes an ephemeral launch template no longer
// needed, reporting whether it is gone; a failure is only logged, as the
// template is deleted again when its placement retires.
func (p *Provider) dropLaunchTemplate(ctx context.Context, id string) bool {
	if err := p.deleteLaunchTemplate(ctx, id); err != nil {
		p.log.Warn("deleting a launch template", "launch_template_id", id, "err", err)
		return false
	}
	return true
}
