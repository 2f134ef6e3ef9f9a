package aws

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// subnetZoneKey caches a subnet's Availability Zone, which never changes.
func subnetZoneKey(id string) string { return "subnet-zone:" + id }

// checkZones refuses, before anything is created, a fleet template whose
// subnets share an Availability Zone, which EC2 would refuse
// (config.Template.ZoneRule). Zones come from the cache, else from one
// DescribeSubnets; when that fails the check is left to AWS, whose
// refusal then names the rule.
//
//ohfp:iam EC2Fleet SpotFleet
func (p *Provider) checkZones(ctx context.Context, t config.Template) error {
	if len(t.SubnetIDs) < 2 || !t.OneSubnetPerZone() {
		return nil
	}
	zones := make(map[string]string, len(t.SubnetIDs))
	var missing []string
	for _, id := range t.SubnetIDs {
		var zone string
		if p.fact(ctx, subnetZoneKey(id), &zone) {
			zones[id] = zone
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		out, err := p.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: missing}, p.describeOpts...)
		if err != nil {
			p.log.Warn("cannot read the zones of the template's subnets; AWS will check them", "template_id", t.ID, "err", awsError("ec2:DescribeSubnets", err))
			return nil
		}
		for _, sn := range out.Subnets {
			id, zone := awssdk.ToString(sn.SubnetId), awssdk.ToString(sn.AvailabilityZone)
			zones[id] = zone
			p.putFact(ctx, subnetZoneKey(id), zone)
		}
	}
	if err := t.ZoneRule(func(id string) string { return zones[id] }); err != nil {
		return fault.New(fault.Configuration, "template %s: %v", t.ID, err).With("field", "subnetId")
	}
	return nil
}
