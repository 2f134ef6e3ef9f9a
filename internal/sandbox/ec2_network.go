package sandbox

import "time"

// The Describe calls for the static resources: images, subnets, security
// groups and key pairs. The doctor command checks configurations with them.

const amazonOwnerID = "137112412989"

var imageFilters = map[string]field[Image]{
	"image-id":     func(_ *Sandbox, im Image, _ time.Time) string { return im.ID },
	"name":         func(_ *Sandbox, im Image, _ time.Time) string { return im.Name },
	"architecture": func(_ *Sandbox, im Image, _ time.Time) string { return im.Architecture },
	"owner-id":     func(_ *Sandbox, im Image, _ time.Time) string { return im.OwnerID },
	"state":        func(_ *Sandbox, _ Image, _ time.Time) string { return "available" },
}

func (s *Sandbox) describeImages(c *call) error {
	preds, err := predicates(c, imageFilters, nil)
	if err != nil {
		return err
	}
	owners := map[string]bool{}
	for _, o := range c.form.list("Owner") {
		switch o {
		case "self":
			o = s.opts.AccountID
		case "amazon":
			o = amazonOwnerID
		}
		owners[o] = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []Image
	for _, id := range sortedKeys(s.world.images) {
		if im := s.world.images[id]; len(owners) == 0 || owners[im.OwnerID] {
			all = append(all, im)
		}
	}
	list, err := pick(all, func(im Image) string { return im.ID }, c.form.list("ImageId"), func(ids string) error {
		return badParamCode("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", ids)
	})
	if err != nil {
		return err
	}
	return describe(s, c, list, preds, "imagesSet", 1000, func(x xmlw, im Image) {
		x.open("item")
		x.str("imageId", im.ID)
		x.str("imageLocation", im.OwnerID+"/"+im.Name)
		x.str("imageState", "available")
		x.str("imageOwnerId", im.OwnerID)
		if im.OwnerID == amazonOwnerID {
			x.str("imageOwnerAlias", "amazon")
		}
		x.bool("isPublic", im.OwnerID == amazonOwnerID)
		x.str("architecture", im.Architecture)
		x.str("imageType", "machine")
		x.str("name", im.Name)
		x.str("platformDetails", "Linux/UNIX")
		x.str("rootDeviceType", "ebs")
		x.str("rootDeviceName", "/dev/xvda")
		x.str("virtualizationType", "hvm")
		x.bool("enaSupport", true)
		x.str("hypervisor", "xen")
		x.close("item")
	})
}

var subnetFilters = map[string]field[*subnet]{
	"subnet-id":         func(_ *Sandbox, sn *subnet, _ time.Time) string { return sn.ID },
	"vpc-id":            func(_ *Sandbox, sn *subnet, _ time.Time) string { return sn.VPCID },
	"availability-zone": func(_ *Sandbox, sn *subnet, _ time.Time) string { return sn.Zone },
	"cidr-block":        func(_ *Sandbox, sn *subnet, _ time.Time) string { return sn.CIDR },
	"state":             func(_ *Sandbox, _ *subnet, _ time.Time) string { return "available" },
}

func (s *Sandbox) describeSubnets(c *call) error {
	preds, err := predicates(c, subnetFilters, nil)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]*subnet, 0, len(s.world.subnets))
	for _, id := range sortedKeys(s.world.subnets) {
		all = append(all, s.world.subnets[id])
	}
	list, err := pick(all, func(sn *subnet) string { return sn.ID }, c.form.list("SubnetId"), func(ids string) error {
		return badParamCode("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", ids)
	})
	if err != nil {
		return err
	}
	return describe(s, c, list, preds, "subnetSet", 1000, func(x xmlw, sn *subnet) {
		x.open("item")
		x.str("subnetId", sn.ID)
		x.str("subnetArn", "arn:aws:ec2:"+s.opts.Region+":"+s.opts.AccountID+":subnet/"+sn.ID)
		x.str("state", "available")
		x.str("ownerId", s.opts.AccountID)
		x.str("vpcId", sn.VPCID)
		x.str("cidrBlock", sn.CIDR)
		x.int("availableIpAddressCount", int64(len(sn.free))+int64(sn.size()-1-sn.next))
		x.str("availabilityZone", sn.Zone)
		x.bool("defaultForAz", false)
		x.bool("mapPublicIpOnLaunch", false)
		x.close("item")
	})
}

// securityGroup is one entry of the group registry.
type securityGroup struct{ id, name string }

var groupFilters = map[string]field[securityGroup]{
	"group-id":   func(_ *Sandbox, g securityGroup, _ time.Time) string { return g.id },
	"group-name": func(_ *Sandbox, g securityGroup, _ time.Time) string { return g.name },
	"vpc-id":     func(_ *Sandbox, _ securityGroup, _ time.Time) string { return DefaultVPCID },
}

func (s *Sandbox) describeSecurityGroups(c *call) error {
	preds, err := predicates(c, groupFilters, nil)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]securityGroup, 0, len(s.world.groups))
	for _, id := range sortedKeys(s.world.groups) {
		all = append(all, securityGroup{id, s.world.groups[id]})
	}
	notFound := func(ids string) error {
		return badParamCode("InvalidGroup.NotFound", "The security group '%s' does not exist", ids)
	}
	list, err := pick(all, func(g securityGroup) string { return g.id }, c.form.list("GroupId"), notFound)
	if err != nil {
		return err
	}
	if list, err = pick(list, func(g securityGroup) string { return g.name }, c.form.list("GroupName"), notFound); err != nil {
		return err
	}
	return describe(s, c, list, preds, "securityGroupInfo", 1000, func(x xmlw, g securityGroup) {
		x.open("item")
		x.str("ownerId", s.opts.AccountID)
		x.str("groupId", g.id)
		x.str("groupName", g.name)
		x.str("groupDescription", g.name+" security group")
		x.str("vpcId", DefaultVPCID)
		x.close("item")
	})
}

// keyPair is one entry of the key pair registry.
type keyPair struct{ name, id string }

var keyPairFilters = map[string]field[keyPair]{
	"key-name":    func(_ *Sandbox, k keyPair, _ time.Time) string { return k.name },
	"key-pair-id": func(_ *Sandbox, k keyPair, _ time.Time) string { return k.id },
}

func (s *Sandbox) describeKeyPairs(c *call) error {
	preds, err := predicates(c, keyPairFilters, nil)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]keyPair, 0, len(s.world.keyPairs))
	for _, name := range sortedKeys(s.world.keyPairs) {
		all = append(all, keyPair{name, s.world.keyPairs[name]})
	}
	notFound := func(ids string) error {
		return badParamCode("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", ids)
	}
	list, err := pick(all, func(k keyPair) string { return k.name }, c.form.list("KeyName"), notFound)
	if err != nil {
		return err
	}
	if list, err = pick(list, func(k keyPair) string { return k.id }, c.form.list("KeyPairId"), notFound); err != nil {
		return err
	}
	// DescribeKeyPairs has no pagination.
	return describe(s, c, list, preds, "keySet", 0, func(x xmlw, k keyPair) {
		x.open("item")
		x.str("keyPairId", k.id)
		x.str("keyName", k.name)
		x.str("keyType", "rsa")
		x.str("keyFingerprint", "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f")
		x.close("item")
	})
}
