package aws

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/lsf"
)

// launchSpec is a template resolved into what every launch API needs:
// each handler (RunInstances, fleets, groups) turns it into its own input.
type launchSpec struct {
	imageID          string   // empty when the launch template names it
	instanceTypes    []string // in order of preference; empty: the launch template's
	subnetIDs        []string
	securityGroupIDs []string
	keyName          string
	instanceProfile  *types.IamInstanceProfileSpecification
	blockDevices     []types.BlockDeviceMapping
	userData         string // base64, as EC2 wants it
	tags             []types.Tag
	spot             bool
	maxSpotPrice     string
	placementGroup   string
	tenancy          types.Tenancy
	ebsOptimized     bool
	launchTemplate   *types.LaunchTemplateSpecification
	interfaceType    string // efa or interface: RunInstances sets network interfaces
	efaCount         int
}

// buildLaunchSpec resolves spec's template: image, user data, root volume
// and tags.
func (p *Provider) buildLaunchSpec(ctx context.Context, spec cloud.LaunchSpec) (*launchSpec, error) {
	t := spec.Template
	if spec.Count <= 0 {
		return nil, fault.New(fault.InvalidRequest, "machine count must be positive, got %d", spec.Count)
	}
	ls := &launchSpec{
		instanceTypes:    instanceTypes(t),
		subnetIDs:        t.SubnetIDs,
		securityGroupIDs: t.SecurityGroupIDs,
		keyName:          t.KeyName,
		spot:             t.PriceType == config.PriceSpot,
		maxSpotPrice:     t.MaxSpotPrice,
		placementGroup:   t.PlacementGroupName,
		tenancy:          types.Tenancy(t.Tenancy),
		ebsOptimized:     t.EBSOptimized,
		interfaceType:    t.InterfaceType,
		efaCount:         t.EFACount,
		tags:             launchTags(spec),
	}
	if t.LaunchTemplateID != "" {
		ls.launchTemplate = &types.LaunchTemplateSpecification{LaunchTemplateId: awssdk.String(t.LaunchTemplateID)}
		if t.LaunchTemplateVersion != "" {
			ls.launchTemplate.Version = awssdk.String(t.LaunchTemplateVersion)
		}
	} else {
		if t.ImageID == "" {
			return nil, fault.New(fault.Configuration, "template %s: no imageId and no launchTemplateId", t.ID)
		}
		if len(ls.instanceTypes) == 0 {
			return nil, fault.New(fault.Configuration, "template %s: no vmType and no launchTemplateId", t.ID)
		}
	}
	if t.InstanceProfile != "" {
		ls.instanceProfile = &types.IamInstanceProfileSpecification{}
		if strings.HasPrefix(t.InstanceProfile, "arn:") {
			ls.instanceProfile.Arn = awssdk.String(t.InstanceProfile)
		} else {
			ls.instanceProfile.Name = awssdk.String(t.InstanceProfile)
		}
	}
	var err error
	if ls.imageID, err = p.resolveImage(ctx, t); err != nil {
		return nil, err
	}
	text, err := t.UserDataText(spec.Exports...)
	if err != nil {
		return nil, err
	}
	if text != "" {
		ls.userData = base64.StdEncoding.EncodeToString([]byte(text))
	}
	if ls.blockDevices, err = p.rootVolume(ctx, t, ls.imageID); err != nil {
		return nil, err
	}
	return ls, nil
}

// instanceTypes lists the template's types in order of preference: vmType,
// then vmTypes by vmTypesPriority (lower first, as EC2 Fleet reads it), then
// by name.
func instanceTypes(t config.Template) []string {
	var out []string
	if t.VMType != "" {
		out = append(out, t.VMType)
	}
	rest := make([]string, 0, len(t.VMTypes))
	for name := range t.VMTypes {
		if name != t.VMType {
			rest = append(rest, name)
		}
	}
	slices.SortFunc(rest, func(a, b string) int {
		pa, aok := t.VMTypesPriority[a]
		pb, bok := t.VMTypesPriority[b]
		switch {
		case aok && !bok:
			return -1
		case bok && !aok:
			return 1
		}
		return cmp.Or(cmp.Compare(pa, pb), strings.Compare(a, b))
	})
	return append(out, rest...)
}

// rootVolume maps the template's root volume settings onto the image's root
// device; nil when the template sets none.
func (p *Provider) rootVolume(ctx context.Context, t config.Template, imageID string) ([]types.BlockDeviceMapping, error) {
	if t.RootDeviceVolumeSize == 0 && t.VolumeType == "" && t.IOPS == 0 {
		return nil, nil
	}
	device, err := p.rootDeviceName(ctx, imageID)
	if err != nil {
		return nil, err
	}
	ebs := &types.EbsBlockDevice{
		DeleteOnTermination: awssdk.Bool(true),
		VolumeType:          types.VolumeType(t.VolumeType),
	}
	if t.RootDeviceVolumeSize > 0 {
		ebs.VolumeSize = awssdk.Int32(int32(t.RootDeviceVolumeSize))
	}
	if t.IOPS > 0 {
		ebs.Iops = awssdk.Int32(int32(t.IOPS))
	}
	return []types.BlockDeviceMapping{{DeviceName: awssdk.String(device), Ebs: ebs}}, nil
}

// launchTags are the tags of every instance and volume ohfp launches: its
// own keys, which the user cannot override since recovery relies on them,
// LSF's RC_ACCOUNT of the request, which LSF's account policies read, then
// the template's and the request's own (config.MergeTags), then a Name if
// those give none.
func launchTags(spec cloud.LaunchSpec) []types.Tag {
	own := []types.Tag{
		{Key: awssdk.String(cloud.TagRequestID), Value: awssdk.String(spec.RequestID)},
		{Key: awssdk.String(cloud.TagTemplateID), Value: awssdk.String(spec.Template.ID)},
		{Key: awssdk.String(cloud.TagProvider), Value: awssdk.String(spec.ProviderName)},
		{Key: awssdk.String(cloud.TagInstallation), Value: awssdk.String(spec.InstallationID)},
	}
	if spec.RCAccount != "" {
		own = append(own, types.Tag{Key: awssdk.String(lsf.AccountTag), Value: awssdk.String(spec.RCAccount)})
	}
	user := config.MergeTags(spec.Template.InstanceTags, spec.Tags)
	tags := make([]types.Tag, 0, len(own)+len(user)+1)
	tags = append(tags, own...)
	named := false
	for _, tag := range user {
		switch {
		case tag.Key == cloud.TagRequestID, tag.Key == cloud.TagTemplateID, tag.Key == cloud.TagProvider, tag.Key == cloud.TagInstallation,
			tag.Key == lsf.AccountTag && spec.RCAccount != "":
			continue
		case tag.Key == "Name":
			named = true
		}
		tags = append(tags, types.Tag{Key: awssdk.String(tag.Key), Value: awssdk.String(tag.Value)})
	}
	if !named {
		tags = append(tags, types.Tag{Key: awssdk.String("Name"), Value: awssdk.String(spec.ProviderName + "-" + spec.Template.ID)})
	}
	return tags
}

// tagSpecifications tags the given resource types with the launch tags.
func (ls *launchSpec) tagSpecifications(resources ...types.ResourceType) []types.TagSpecification {
	specs := make([]types.TagSpecification, len(resources))
	for i, r := range resources {
		specs[i] = types.TagSpecification{ResourceType: r, Tags: ls.tags}
	}
	return specs
}
