package sandbox

import (
	"strconv"

	"github.com/google/uuid"
)

// Spot Fleet: RequestSpotFleet, DescribeSpotFleetRequests,
// DescribeSpotFleetInstances, ModifySpotFleetRequest and
// CancelSpotFleetRequests. Fulfilment is EC2 Fleet's (see filler).

const sfc = "SpotFleetRequestConfig."

func (s *Sandbox) requestSpotFleet(c *call) error {
	p := c.form
	if p.get(sfc+"IamFleetRole") == "" {
		return missing(sfc + "IamFleetRole")
	}
	if !p.has(sfc + "TargetCapacity") {
		return missing(sfc + "TargetCapacity")
	}
	typ := or(p.get(sfc+"Type"), "maintain")
	if typ != "request" && typ != "maintain" {
		return badParam("Invalid value '%s' for Type.", typ)
	}
	total, err := p.integer(sfc+"TargetCapacity", 0)
	if err != nil {
		return err
	}
	od, err := p.integer(sfc+"OnDemandTargetCapacity", 0)
	if err != nil {
		return err
	}
	poolsCount, err := p.integer(sfc+"InstancePoolsToUseCount", 0)
	if err != nil {
		return err
	}
	if total < 0 || od < 0 {
		return badParam("Target capacities must not be negative.")
	}
	// SpotFleetRequestConfigData, TagSpecifications: the resource type
	// "must be spot-fleet-request"; instances take theirs from the launch
	// template or the launch specification.
	tags, err := p.tagSpecs(sfc+"TagSpecification", "spot-fleet-request")
	if err != nil {
		return err
	}
	validUntil, err := parseTime(p, sfc+"ValidUntil")
	if err != nil {
		return err
	}
	if err := checkClientToken(p, sfc+"ClientToken"); err != nil {
		return err
	}

	defer s.update()()
	if f, err := s.knownFleet(p); err != nil || f != nil {
		if err == nil {
			ec2Reply(c, func(x xmlw) { x.str("spotFleetRequestId", f.id) })
		}
		return err
	}
	configs, pools, err := s.parseConfigs(p, sfc+"LaunchTemplateConfigs", "SpotPrice")
	if err != nil {
		return err
	}
	specPools, err := s.parseSpecs(p, sfc+"LaunchSpecifications")
	if err != nil {
		return err
	}
	switch {
	case len(pools) > 0 && len(specPools) > 0:
		return badParam("Specify either LaunchTemplateConfigs or LaunchSpecifications, not both.")
	case len(pools) == 0 && len(specPools) == 0:
		return missing(sfc + "LaunchTemplateConfigs")
	case len(specPools) > 0:
		pools = specPools
	}
	if err := checkFleet(typ, p.get(sfc+"ExcessCapacityTerminationPolicy"), pools); err != nil {
		return err
	}
	f := &fleet{
		filler:    filler{pools: pools, once: typ == "request", spotMax: p.get(sfc + "SpotPrice")},
		id:        "sfr-" + uuid.NewString(),
		spotFleet: true, typ: typ, token: p.get(sfc + "ClientToken"), created: c.now,
		tags: tags["spot-fleet-request"], configs: configs,
		totalTarget: total, onDemandTarget: od,
		spotStrategy: or(p.get(sfc+"AllocationStrategy"), "lowestPrice"), onDemandStrategy: p.get(sfc + "OnDemandAllocationStrategy"),
		excessPolicy: p.get(sfc + "ExcessCapacityTerminationPolicy"),
		validUntil:   validUntil, terminateAtExpiry: p.boolean(sfc + "TerminateInstancesWithExpiration"),
		iamFleetRole: p.get(sfc + "IamFleetRole"), poolsCount: poolsCount,
	}
	f.extra = []tag{{"aws:ec2spot:fleet-request-id", f.id}}
	s.addFleet(f, p)
	ec2Reply(c, func(x xmlw) { x.str("spotFleetRequestId", f.id) })
	return nil
}

// parseSpecs reads Spot Fleet LaunchSpecifications.N into checked pools.
// Caller holds s.mu.
func (s *Sandbox) parseSpecs(p params, prefix string) ([]*pool, error) {
	var pools []*pool
	for i := range p.size(prefix) {
		b := prefix + "." + strconv.Itoa(i+1) + "."
		l := &launch{
			imageID: p.get(b + "ImageId"), instanceType: p.get(b + "InstanceType"), keyName: p.get(b + "KeyName"),
			subnetID: p.get(b + "NetworkInterfaceSet.1.SubnetId"), zone: p.get(b + "Placement.AvailabilityZone"),
			groups: p.list(b + "NetworkInterfaceSet.1.SecurityGroupId"), ebsOptimized: p.boolean(b + "EbsOptimized"),
		}
		for j := range p.count(b+"GroupSet", "GroupId") {
			l.groups = append(l.groups, p.get(b+"GroupSet."+strconv.Itoa(j+1)+".GroupId"))
		}
		switch arn, name := p.get(b+"IamInstanceProfile.Arn"), p.get(b+"IamInstanceProfile.Name"); {
		case arn != "":
			l.iamProfileArn = arn
		case name != "":
			l.iamProfileArn = s.profileArn(name)
		}
		tags, err := p.tagSpecs(b+"TagSpecificationSet", "instance")
		if err != nil {
			return nil, err
		}
		l.tags = tags["instance"]
		o := override{subnetID: p.get(b + "SubnetId"), maxPrice: p.get(b + "SpotPrice"), weight: p.get(b + "WeightedCapacity")}
		made, err := s.poolsOf(l, o, i)
		if err != nil {
			return nil, err
		}
		pools = append(pools, made...)
	}
	return pools, nil
}

func (s *Sandbox) describeSpotFleetRequests(c *call) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list, err := s.fleetsOf(c.form.list("SpotFleetRequestId"), true)
	if err != nil {
		return err
	}
	return describe(s, c, list, nil, "spotFleetRequestConfigSet", 1000, func(x xmlw, f *fleet) {
		od, sp := f.fulfilled(&s.opts, c.now)
		x.open("item")
		x.str("spotFleetRequestId", f.id)
		x.str("spotFleetRequestState", f.spotState(&s.opts, c.now))
		x.str("activityStatus", f.activity(&s.opts, c.now))
		x.time("createTime", f.created)
		x.open("spotFleetRequestConfig")
		x.str("allocationStrategy", f.spotStrategy)
		x.str("onDemandAllocationStrategy", f.onDemandStrategy)
		x.str("clientToken", f.token)
		x.str("excessCapacityTerminationPolicy", f.excessPolicy)
		x.float("fulfilledCapacity", od+sp)
		x.float("onDemandFulfilledCapacity", od)
		x.str("iamFleetRole", f.iamFleetRole)
		if len(f.configs) > 0 {
			writeConfigs(x, f.configs, "spotPrice")
		} else {
			writeSpecs(x, f.pools)
		}
		x.str("spotPrice", f.spotMax)
		x.int("targetCapacity", int64(f.totalTarget))
		x.int("onDemandTargetCapacity", int64(f.onDemandTarget))
		x.bool("terminateInstancesWithExpiration", f.terminateAtExpiry)
		x.str("type", f.typ)
		x.time("validUntil", f.validUntil)
		if f.poolsCount > 0 {
			x.int("instancePoolsToUseCount", int64(f.poolsCount))
		}
		x.close("spotFleetRequestConfig")
		x.tagSet(f.tags)
		x.close("item")
	})
}

// writeSpecs echoes LaunchSpecifications, one per pool.
func writeSpecs(x xmlw, pools []*pool) {
	x.open("launchSpecifications")
	for _, p := range pools {
		x.open("item")
		x.str("imageId", p.l.imageID)
		x.str("instanceType", p.l.instanceType)
		x.str("keyName", p.l.keyName)
		x.str("subnetId", p.l.sn.ID)
		x.open("placement")
		x.str("availabilityZone", p.l.sn.Zone)
		x.close("placement")
		x.str("spotPrice", p.override.maxPrice)
		x.str("weightedCapacity", p.override.weight)
		x.close("item")
	}
	x.close("launchSpecifications")
}

func (s *Sandbox) describeSpotFleetInstances(c *call) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := s.fleetNamed(c.form.get("SpotFleetRequestId"), true)
	if err != nil {
		return err
	}
	return s.writeActiveInstances(c, f, "spotFleetRequestId")
}

func (s *Sandbox) modifySpotFleetRequest(c *call) error {
	p := c.form
	total, err := p.integer("TargetCapacity", -1)
	if err != nil {
		return err
	}
	od, err := p.integer("OnDemandTargetCapacity", -1)
	if err != nil {
		return err
	}
	defer s.update()()
	f, err := s.fleetNamed(p.get("SpotFleetRequestId"), true)
	if err != nil {
		return err
	}
	if err := modifiable(f); err != nil {
		return err
	}
	if total >= 0 {
		f.totalTarget = total
	}
	if od >= 0 {
		f.onDemandTarget = od
	}
	f.excessPolicy = or(p.get("ExcessCapacityTerminationPolicy"), f.excessPolicy)
	s.retargeted(f, c.now)
	ec2Reply(c, func(x xmlw) { x.bool("return", true) })
	return nil
}

func (s *Sandbox) cancelSpotFleetRequests(c *call) error {
	return s.removeFleetsCall(c, "SpotFleetRequestId", true, deletionXML{"successfulFleetRequestSet", "unsuccessfulFleetRequestSet", "currentSpotFleetRequestState", "previousSpotFleetRequestState", "spotFleetRequestId"})
}
