package aws

import (
	"context"
	"errors"
	"maps"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// Tags AWS puts on the instances of fleets.
const (
	tagEC2Fleet  = "aws:ec2:fleet-id"
	tagSpotFleet = "aws:ec2spot:fleet-request-id"
)

// retireRequest deletes what a request whose placement was never recorded
// may have created through api: the fleets its instances name, its Auto
// Scaling group and its launch template, all found by the request's id.
// Without this a maintain fleet or a group would relaunch every instance
// reconciliation terminates. RunInstances leaves nothing behind.
//
//ohfp:iam EC2Fleet SpotFleet ASG
func (p *Provider) retireRequest(ctx context.Context, api, requestID string) error {
	switch api {
	case config.APIASG:
		return errors.Join(p.deleteGroup(ctx, groupName(requestID)), p.deleteLaunchTemplateNamed(ctx, launchTemplateName(requestID)))
	case config.APIEC2Fleet, config.APISpotFleet:
	default:
		return nil
	}
	insts, err := p.Instances(ctx, cloud.Query{RequestIDs: []string{requestID}})
	if err != nil {
		return err
	}
	// fleets maps each EC2 Fleet the instances name to whether one of its
	// instances is still alive.
	fleets, spotFleets := map[string]bool{}, map[string]bool{}
	for _, in := range insts {
		if id := in.Tags[tagEC2Fleet]; id != "" {
			fleets[id] = fleets[id] || in.State.Live()
		}
		if id := in.Tags[tagSpotFleet]; id != "" {
			spotFleets[id] = true
		}
	}
	var errs []error
	if len(fleets) > 0 {
		errs = append(errs, p.deleteFleetsOf(ctx, fleets))
	}
	for id := range spotFleets {
		errs = append(errs, p.cancelSpotFleet(ctx, id))
	}
	errs = append(errs, p.deleteLaunchTemplateNamed(ctx, launchTemplateName(requestID)))
	return errors.Join(errs...)
}

// deleteFleetsOf deletes the EC2 Fleets of alive (fleet id -> whether an
// instance of it is alive). EC2 deletes an instant fleet only with its
// instances, so one with an instance alive is kept until none is; the
// others are deleted leaving their instances to the broker. Fleets EC2 no
// longer knows are gone already.
//
//ohfp:iam EC2Fleet
func (p *Provider) deleteFleetsOf(ctx context.Context, alive map[string]bool) error {
	fds, err := p.describeFleets(ctx, slices.Sorted(maps.Keys(alive)))
	if err != nil {
		return err
	}
	var errs []error
	for _, fd := range fds {
		id, instant := awssdk.ToString(fd.FleetId), fd.Type == types.FleetTypeInstant
		if instant && alive[id] {
			p.log.Info("instant fleet kept while an instance of it is alive", "fleet_id", id)
			continue
		}
		errs = append(errs, p.deleteEC2Fleet(ctx, id, instant))
	}
	return errors.Join(errs...)
}

// deleteLaunchTemplateNamed deletes a launch template by name; none of
// that name is nothing to do.
func (p *Provider) deleteLaunchTemplateNamed(ctx context.Context, name string) error {
	_, err := p.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: awssdk.String(name)})
	if err != nil && apiCode(err) != "InvalidLaunchTemplateName.NotFoundException" {
		return awsError("ec2:DeleteLaunchTemplate", err)
	}
	return nil
}
