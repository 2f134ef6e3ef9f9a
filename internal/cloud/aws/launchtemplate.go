package aws

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/fault"
)

// AWS error codes of launch templates.
const (
	codeLaunchTemplateExists   = "InvalidLaunchTemplateName.AlreadyExistsException"
	codeLaunchTemplateNotFound = "InvalidLaunchTemplateId.NotFound"
)

// launchTemplateName is the name of a request's ephemeral launch template.
func launchTemplateName(requestID string) string { return "ohfp-" + requestID }

// launchTemplate is the launch template a fleet or group of spec launches
// from, and the id of the ephemeral one created for it ("" when the
// template names its own, which is never deleted).
func (p *Provider) launchTemplate(ctx context.Context, spec cloud.LaunchSpec, ls *launchSpec) (use *types.LaunchTemplateSpecification, ephemeral string, err error) {
	if ls.launchTemplate != nil {
		return ls.launchTemplate, "", nil
	}
	name := launchTemplateName(spec.RequestID)
	out, err := p.ec2.CreateLaunchTemplate(ctx, ls.createLaunchTemplateInput(spec))
	var id string
	switch {
	case apiCode(err) == codeLaunchTemplateExists:
		// A replay of the same request: its template is already there.
		if id, err = p.launchTemplateID(ctx, name); err != nil {
			return nil, "", err
		}
	case err != nil:
		return nil, "", awsError("ec2:CreateLaunchTemplate", err)
	default:
		id = awssdk.ToString(out.LaunchTemplate.LaunchTemplateId)
	}
	p.log.Info("launch template created", "request_id", spec.RequestID, "launch_template_id", id)
	return &types.LaunchTemplateSpecification{LaunchTemplateId: awssdk.String(id), Version: awssdk.String("$Latest")}, id, nil
}

// createLaunchTemplateInput is the ephemeral launch template of spec.
func (ls *launchSpec) createLaunchTemplateInput(spec cloud.LaunchSpec) *ec2.CreateLaunchTemplateInput {
	return &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: awssdk.String(launchTemplateName(spec.RequestID)),
		LaunchTemplateData: ls.launchTemplateData(),
		ClientToken:        optional(attemptToken(spec.ClientToken+"-lt", 0)),
		TagSpecifications:  ls.tagSpecifications(types.ResourceTypeLaunchTemplate),
	}
}

// launchTemplateID finds a launch template's id by its name.
func (p *Provider) launchTemplateID(ctx context.Context, name string) (string, error) {
	out, err := p.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		LaunchTemplateNames: []string{name},
	}, p.describeOpts...)
	if err != nil {
		return "", awsError("ec2:DescribeLaunchTemplates", err)
	}
	if len(out.LaunchTemplates) == 0 {
		return "", fault.New(fault.Cloud, "ec2:DescribeLaunchTemplates: launch template %s said to exist is not found", name)
	}
	return awssdk.ToString(out.LaunchTemplates[0].LaunchTemplateId), nil
}

// launchTemplateData is the launch spec as launch template data: all of it
// but the instance type, subnet and market, which the fleet or group sets
// per override. Tags go on instances and volumes alike.
func (ls *launchSpec) launchTemplateData() *types.RequestLaunchTemplateData {
	d := &types.RequestLaunchTemplateData{
		ImageId:          optional(ls.imageID),
		KeyName:          optional(ls.keyName),
		SecurityGroupIds: ls.securityGroupIDs,
		UserData:         optional(ls.userData),
		TagSpecifications: []types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: types.ResourceTypeInstance, Tags: ls.tags},
			{ResourceType: types.ResourceTypeVolume, Tags: ls.tags},
		},
	}
	if ip := ls.instanceProfile; ip != nil {
		d.IamInstanceProfile = &types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: ip.Arn, Name: ip.Name}
	}
	for _, bd := range ls.blockDevices {
		m := types.LaunchTemplateBlockDeviceMappingRequest{DeviceName: bd.DeviceName}
		if e := bd.Ebs; e != nil {
			m.Ebs = &types.LaunchTemplateEbsBlockDeviceRequest{
				DeleteOnTermination: e.DeleteOnTermination,
				Iops:                e.Iops,
				VolumeSize:          e.VolumeSize,
				VolumeType:          e.VolumeType,
			}
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, m)
	}
	if ls.ebsOptimized {
		d.EbsOptimized = awssdk.Bool(true)
	}
	if ls.placementGroup != "" || ls.tenancy != "" {
		d.Placement = &types.LaunchTemplatePlacementRequest{GroupName: optional(ls.placementGroup), Tenancy: ls.tenancy}
	}
	return d
}

// deleteLaunchTemplate deletes an ephemeral launch template; "" or one
// already gone is nothing to do.
//
//ohfp:iam EC2Fleet SpotFleet ASG
func (p *Provider) deleteLaunchTemplate(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	_, err := p.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: awssdk.String(id)})
	switch {
	case err == nil:
		p.log.Info("launch template deleted", "launch_template_id", id)
	case apiCode(err) == codeLaunchTemplateNotFound:
	default:
		return awsError("ec2:DeleteLaunchTemplate", err)
	}
	return nil
}
