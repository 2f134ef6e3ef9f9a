package aws

import (
	"context"
	"errors"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

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
	fleets, spotFleets := map[string]bool{}, map[string]bool{}
	for _, in := range insts {
		if id := in.Tags[tagEC2Fleet]; id != "" {
			fleets[id] = true
		}
		if id := in.Tags[tagSpotFleet]; id != "" {
			spotFleets[id] = true
		}
	}
	var errs []error
	for id := range fleets {
		errs = append(errs, p.deleteEC2Fleet(ctx, id, false))
	}
	for id := range spotFleets {
		errs = append(errs, p.cancelSpotFleet(ctx, id))
	}
	errs = append(errs, p.deleteLaunchTemplateNamed(ctx, launchTemplateName(requestID)))
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
