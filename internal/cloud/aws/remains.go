package aws

import (
	"context"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Remains lists what a request's placement (ref, as Launch answered it)
// still keeps in the cloud besides its instances: a fleet not deleted or
// cancelled, an Auto Scaling group, the request's ephemeral launch
// template. ohfp smoke checks it is empty once a run is returned.
func (p *Provider) Remains(ctx context.Context, ref, requestID string) ([]string, error) {
	var out []string
	r := parseRef(ref)
	var err error
	switch r.kind {
	case refEC2Fleet:
		out, err = p.ec2FleetRemains(ctx, r.id)
	case refSpotFleet:
		out, err = p.spotFleetRemains(ctx, r.id)
	case refGroup:
		out, err = p.groupRemains(ctx, r.id)
	}
	if err != nil {
		return nil, err
	}
	lts, err := p.launchTemplateRemains(ctx, launchTemplateName(requestID))
	return append(out, lts...), err
}

//ohfp:iam EC2Fleet
func (p *Provider) ec2FleetRemains(ctx context.Context, id string) ([]string, error) {
	fleets, err := p.describeFleets(ctx, []string{id})
	var out []string
	for _, f := range fleets {
		if !strings.HasPrefix(string(f.FleetState), "deleted") {
			out = append(out, "EC2 Fleet "+id+" ("+string(f.FleetState)+")")
		}
	}
	return out, err
}

//ohfp:iam SpotFleet
func (p *Provider) spotFleetRemains(ctx context.Context, id string) ([]string, error) {
	fleets, err := p.describeSpotFleets(ctx, []string{id})
	var out []string
	for _, f := range fleets {
		if !strings.HasPrefix(string(f.SpotFleetRequestState), "cancelled") {
			out = append(out, "Spot Fleet request "+id+" ("+string(f.SpotFleetRequestState)+")")
		}
	}
	return out, err
}

//ohfp:iam ASG
func (p *Provider) groupRemains(ctx context.Context, name string) ([]string, error) {
	groups, err := p.describeGroups(ctx, []string{name})
	var out []string
	for _, g := range groups {
		out = append(out, "Auto Scaling group "+awssdk.ToString(g.AutoScalingGroupName))
	}
	return out, err
}

// launchTemplateRemains looks the launch template up by a filter, which
// answers nothing for a name that does not exist where the name list
// would fail.
func (p *Provider) launchTemplateRemains(ctx context.Context, name string) ([]string, error) {
	res, err := p.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []types.Filter{{Name: awssdk.String("launch-template-name"), Values: []string{name}}},
	}, p.describeOpts...)
	if err != nil {
		return nil, awsError("ec2:DescribeLaunchTemplates", err)
	}
	var out []string
	for _, lt := range res.LaunchTemplates {
		out = append(out, "launch template "+awssdk.ToString(lt.LaunchTemplateName)+" ("+awssdk.ToString(lt.LaunchTemplateId)+")")
	}
	return out, nil
}
