package aws

import (
	"context"
	"errors"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

// DryRun is AWS's answer to one call made with DryRun: Err is nil when
// AWS answered DryRunOperation ("Request would have succeeded"), else the
// refusal (UnauthorizedOperation when the permission is missing: see
// Denied) or another failure.
type DryRun struct {
	Action string // such as "ec2:CreateFleet"
	Err    error
}

// dryRunRequestID names the launch a dry run describes, in place of a
// request id: its ephemeral launch template would be "ohfp-dry-run".
const dryRunRequestID = "dry-run"

// DryRunLaunch asks AWS whether these credentials may launch one instance
// of t through its API, without launching anything. It builds the same
// launch spec a real launch does (image, types, subnets, security groups,
// key, instance profile, ohfp's tags) and dry-runs each call of the API
// that supports DryRun (API references: "Checks whether you have the
// required permissions for the action, without actually making the
// request"):
//
//   - every API: ec2:RunInstances of the spec, which is also how AWS checks
//     a launch template's resources for fleets and groups;
//   - EC2 Fleet and Spot Fleet: ec2:CreateLaunchTemplate (unless the
//     template names its own) and ec2:CreateFleet or ec2:RequestSpotFleet;
//   - Auto Scaling: ec2:CreateLaunchTemplate; Auto Scaling itself has no
//     DryRun.
//
// The error is for what stopped it from asking at all (an image that does
// not resolve, a template it cannot launch, such as a fleet over two
// subnets of one Availability Zone).
func (p *Provider) DryRunLaunch(ctx context.Context, t config.Template, providerName string) ([]DryRun, error) {
	if err := p.checkZones(ctx, t); err != nil {
		return nil, err
	}
	spec := cloud.LaunchSpec{RequestID: dryRunRequestID, ProviderName: providerName, Count: 1, Template: t}
	ls, err := p.buildLaunchSpec(ctx, spec)
	if err != nil {
		return nil, err
	}
	first := ls.slots()[0]
	in := ls.runInstancesInput(first.instanceType, first.subnetID, 1, "")
	in.DryRun = awssdk.Bool(true)
	_, err = p.ec2.RunInstances(ctx, in)
	out := []DryRun{dryRun("ec2:RunInstances", err)}
	switch t.API() {
	case config.APIEC2Fleet:
		out = append(out, p.dryRunEC2Fleet(ctx, spec, ls)...)
	case config.APISpotFleet:
		out = append(out, p.dryRunSpotFleet(ctx, spec, ls)...)
	case config.APIASG:
		if ls.launchTemplate == nil {
			out = append(out, p.dryRunLaunchTemplate(ctx, spec, ls))
		}
	}
	return out, nil
}

// dryRun reads a DryRun call's answer.
func dryRun(action string, err error) DryRun {
	if apiCode(err) == codeDryRunOperation {
		err = nil
	} else if err == nil {
		err = errors.New("the endpoint ignored DryRun and carried the call out")
	}
	return DryRun{Action: action, Err: err}
}

const codeDryRunOperation = "DryRunOperation"

// dryRunTemplate is the launch template a dry run of a fleet names: the
// template's own, or one named like the ephemeral one a launch creates.
// AWS documents no order between checking that it exists and checking the
// permission; an answer that it does not exist is no verdict (see
// LaunchTemplateMissing).
func dryRunTemplate(ls *launchSpec) *types.LaunchTemplateSpecification {
	if ls.launchTemplate != nil {
		return ls.launchTemplate
	}
	return &types.LaunchTemplateSpecification{LaunchTemplateName: awssdk.String(launchTemplateName(dryRunRequestID)), Version: awssdk.String("$Latest")}
}

// dryRunLaunchTemplate dry-runs the ephemeral launch template of spec.
//
//ohfp:iam EC2Fleet SpotFleet ASG
func (p *Provider) dryRunLaunchTemplate(ctx context.Context, spec cloud.LaunchSpec, ls *launchSpec) DryRun {
	in := ls.createLaunchTemplateInput(spec)
	in.DryRun, in.ClientToken = awssdk.Bool(true), nil
	_, err := p.ec2.CreateLaunchTemplate(ctx, in)
	return dryRun("ec2:CreateLaunchTemplate", err)
}

//ohfp:iam EC2Fleet
func (p *Provider) dryRunEC2Fleet(ctx context.Context, spec cloud.LaunchSpec, ls *launchSpec) []DryRun {
	var out []DryRun
	if ls.launchTemplate == nil {
		out = append(out, p.dryRunLaunchTemplate(ctx, spec, ls))
	}
	t := spec.Template
	in := ls.createFleetInput(spec, p.shape(ctx, 1, t, ls), dryRunTemplate(ls), t.Fleet() == config.FleetInstant)
	in.DryRun, in.ClientToken = awssdk.Bool(true), nil
	_, err := p.ec2.CreateFleet(ctx, in)
	return append(out, dryRun("ec2:CreateFleet", err))
}

//ohfp:iam SpotFleet
func (p *Provider) dryRunSpotFleet(ctx context.Context, spec cloud.LaunchSpec, ls *launchSpec) []DryRun {
	var out []DryRun
	if ls.launchTemplate == nil {
		out = append(out, p.dryRunLaunchTemplate(ctx, spec, ls))
	}
	cfg := spotFleetConfig(spec, ls, p.shape(ctx, 1, spec.Template, ls), dryRunTemplate(ls))
	cfg.ClientToken = nil
	_, err := p.ec2.RequestSpotFleet(ctx, &ec2.RequestSpotFleetInput{DryRun: awssdk.Bool(true), SpotFleetRequestConfig: cfg})
	return append(out, dryRun("ec2:RequestSpotFleet", err))
}
