package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// launchToken remembers the first launch made with a ClientToken.
type launchToken struct {
	fingerprint   string // the call's parameters
	reservationID string
	instanceIDs   []string
	groups        []string
}

// launch is one launch specification resolved against the world: a
// RunInstances call, or a fleet's or group's pool.
type launch struct {
	imageID, arch, instanceType string
	keyName, iamProfileArn      string
	templateID                  string
	subnetID, zone              string // as asked; sn is what they resolve to
	sn                          *subnet
	groups                      []string
	min, max                    int
	spot                        bool
	maxPrice                    string
	ebsOptimized                bool
	userData                    string   // base64, as EC2 takes it
	interfaces                  []string // the type of each network interface asked for
	tags, volumeTags, spotTags  []tag
}

func (s *Sandbox) runInstances(c *call) error {
	defer s.update()()
	w := &s.world
	s.purge(c.now)

	if err := checkClientToken(c.form, "ClientToken"); err != nil {
		return err
	}
	if err := checkUserData(c.form, "UserData"); err != nil {
		return err
	}
	token := c.form.get("ClientToken")
	fingerprint := url.Values(c.form).Encode()
	if lt, ok := w.tokens[token]; ok && token != "" {
		if lt.fingerprint != fingerprint {
			return apiErrorf(http.StatusBadRequest, "IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		}
		s.writeReservation(c, lt.reservationID, lt.groups, lt.instanceIDs)
		return nil
	}

	l, err := s.resolveLaunch(c.form)
	if err != nil {
		return err
	}
	n, short := s.fit(l, l.spot, l.max, c.now)
	if short != nil && (n < l.min || !partial[short.Code]) {
		return short
	}
	resID, launched := s.launchN(l, n, token, c.now)
	ids := make([]string, n)
	for i, in := range launched {
		ids[i] = in.id
	}
	if token != "" {
		w.tokens[token] = &launchToken{fingerprint: fingerprint, reservationID: resID, instanceIDs: ids, groups: l.groups}
	}
	s.writeReservation(c, resID, l.groups, ids)
	return nil
}

// partial are the shortfalls with which RunInstances still launches what
// it can, down to MinCount.
var partial = map[string]bool{
	"InsufficientInstanceCapacity": true,
	"InstanceLimitExceeded":        true, "VcpuLimitExceeded": true, "MaxSpotInstanceCountExceeded": true,
}

// fit is how many of n instances of l (spot or not) the account's quotas
// and the capacity let launch now, and when fewer, EC2's error for the
// shortfall. Caller holds s.mu.
func (s *Sandbox) fit(l *launch, spot bool, n int, now time.Time) (int, *apiError) {
	n, quota := s.withinQuotas(l.instanceType, spot, n, now)
	fits, short := s.world.fit(l.instanceType, l.sn, n)
	if short == nil {
		short = quota
	}
	return fits, short
}

// fit is how many of n instances of typ sn can take now, and when fewer,
// the error EC2 gives for the shortfall. Caller holds s.mu.
func (w *world) fit(typ string, sn *subnet, n int) (int, *apiError) {
	if avail := w.available(typ, sn.Zone); avail >= 0 && avail < n {
		return avail, apiErrorf(http.StatusInternalServerError, "InsufficientInstanceCapacity",
			"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing %s.",
			typ, sn.Zone, typ, strings.Join(w.otherZones(sn.Zone), ", "))
	}
	if free := len(sn.free) + int(sn.size()-1-sn.next); free < n {
		return free, apiErrorf(http.StatusBadRequest, "InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.ID)
	}
	return n, nil
}

// launchN starts n instances of l in one new reservation; the caller made
// sure they fit. Caller holds s.mu.
func (s *Sandbox) launchN(l *launch, n int, token string, now time.Time) (string, []*instance) {
	w := &s.world
	w.take(l.instanceType, l.sn.Zone, n)
	w.seq++
	resID := fmt.Sprintf("r-%08x%09x", s.epoch, w.seq)
	out := make([]*instance, n)
	for i := range n {
		w.seq++
		ip := l.sn.allocate()
		in := &instance{
			seq: w.seq, id: fmt.Sprintf("i-%08x%09x", s.epoch, w.seq), reservationID: resID,
			clientToken: token, launchIndex: i, imageID: l.imageID, instanceType: l.instanceType,
			arch: l.arch, subnetID: l.sn.ID, zone: l.sn.Zone, vpcID: l.sn.VPCID,
			privateIP: ip, privateDNS: s.privateDNS(ip), keyName: l.keyName, groups: l.groups,
			iamProfileArn: l.iamProfileArn, templateID: l.templateID, ebsOptimized: l.ebsOptimized,
			userData: l.userData, interfaces: l.interfaces, tags: l.tags, volumeTags: l.volumeTags, launched: now,
		}
		if l.spot {
			in.spotRequestID = fmt.Sprintf("sir-%08x", s.epoch+uint32(w.seq))
			in.spotMaxPrice = l.maxPrice
			in.spotTags = l.spotTags
			w.bySpotID[in.spotRequestID] = in
		}
		w.instances = append(w.instances, in)
		w.byID[in.id] = in
		out[i] = in
	}
	return resID, out
}

// resolveLaunch validates a RunInstances call like EC2, filling what it
// leaves out from its launch template and the defaults. Caller holds s.mu.
func (s *Sandbox) resolveLaunch(p params) (*launch, error) {
	lt, err := s.world.templateOf(p, "LaunchTemplate.")
	if err != nil {
		return nil, err
	}
	l := lt.launch()
	l.imageID = or(p.get("ImageId"), l.imageID)
	l.instanceType = or(p.get("InstanceType"), l.instanceType)
	l.keyName = or(p.get("KeyName"), l.keyName)
	l.subnetID = or(p.get("SubnetId"), l.subnetID)
	l.zone = or(p.get("Placement.AvailabilityZone"), l.zone)
	if groups := p.list("SecurityGroupId"); len(groups) > 0 {
		l.groups = groups
	}
	if err := l.networkInterfaces(p); err != nil {
		return nil, err
	}
	l.spot = l.spot || p.get("InstanceMarketOptions.MarketType") == "spot"
	l.maxPrice = or(p.get("InstanceMarketOptions.SpotOptions.MaxPrice"), l.maxPrice)
	l.ebsOptimized = l.ebsOptimized || p.boolean("EbsOptimized")
	l.userData = or(p.get("UserData"), l.userData)
	if l.min, err = p.integer("MinCount", 0); err != nil {
		return nil, err
	}
	if l.max, err = p.integer("MaxCount", 0); err != nil {
		return nil, err
	}
	if l.min < 1 || l.max < l.min {
		return nil, badParam("Value (%d) for parameter minCount is invalid. Expected a positive integer not above maxCount (%d).", l.min, l.max)
	}
	switch arn, name := p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name"); {
	case arn != "":
		l.iamProfileArn = arn
	case name != "":
		l.iamProfileArn = s.profileArn(name)
	}
	tags, err := p.tagSpecs("TagSpecification", "instance", "volume", "spot-instances-request", "network-interface")
	if err != nil {
		return nil, err
	}
	l.tags = mergeTags(l.tags, tags["instance"])
	l.volumeTags = mergeTags(l.volumeTags, tags["volume"])
	l.spotTags = tags["spot-instances-request"]
	return l, s.checkLaunch(l)
}

// networkInterfaces reads RunInstances' NetworkInterface.N: their subnet
// and security groups go in them, not beside them (RunInstances,
// SecurityGroupIds: "If you specify a network interface, you must specify
// any security groups and subnets as part of the network interface"),
// and each card holds at most one, the primary on card 0 device 0.
func (l *launch) networkInterfaces(p params) error {
	n := p.count("NetworkInterface", "DeviceIndex")
	if n == 0 {
		return nil
	}
	if p.has("SubnetId") || p.has("SecurityGroupId.1") {
		return badParamCode("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID or security groups may not be specified on the same request")
	}
	cards := map[string]bool{}
	for i := range n {
		base := "NetworkInterface." + strconv.Itoa(i+1) + "."
		card, device := or(p.get(base+"NetworkCardIndex"), "0"), p.get(base+"DeviceIndex")
		if cards[card] || card == "0" && device != "0" || card != "0" && device == "0" {
			return badParam("Network interface %d: card %s, device index %s: each network card takes one interface, the primary on card 0 at device index 0.", i+1, card, device)
		}
		cards[card] = true
		if i == 0 {
			l.subnetID = or(p.get(base+"SubnetId"), l.subnetID)
			if groups := p.list(base + "SecurityGroupId"); len(groups) > 0 {
				l.groups = groups
			}
		}
		l.interfaces = append(l.interfaces, or(p.get(base+"InterfaceType"), "interface"))
	}
	return nil
}

func (s *Sandbox) profileArn(name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":instance-profile/" + name
}

// tagSpecs reads prefix.N.ResourceType and prefix.N.Tag.M, by resource
// type; types not in allowed fail like EC2.
func (p params) tagSpecs(prefix string, allowed ...string) (map[string][]tag, error) {
	out := map[string][]tag{}
	for i := range p.count(prefix, "ResourceType") {
		base := prefix + "." + strconv.Itoa(i+1)
		rt := p.get(base + ".ResourceType")
		if !slices.Contains(allowed, rt) {
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		out[rt] = append(out[rt], p.tags(base+".Tag")...)
	}
	for _, tags := range out {
		if err := checkTags(tags); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mergeTags is base with over's tags added or replacing those of the same key.
func mergeTags(base, over []tag) []tag {
	out := slices.Clone(base)
	for _, t := range over {
		out = setTag(out, t)
	}
	return out
}

// templateOf is the launch template prefix+LaunchTemplateId or
// prefix+LaunchTemplateName names (with prefix+Version), or the zero
// template when neither is given. Caller holds s.mu.
func (w *world) templateOf(p params, prefix string) (LaunchTemplate, error) {
	id, name := p.get(prefix+"LaunchTemplateId"), p.get(prefix+"LaunchTemplateName")
	if id == "" && name == "" {
		return LaunchTemplate{}, nil
	}
	lt, err := w.template(id, name)
	if err != nil {
		return lt, err
	}
	switch v := p.get(prefix + "Version"); v {
	case "", "$Latest", "$Default":
	default:
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > max(lt.Versions, 1) {
			return lt, badParamCode("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", v, lt.ID)
		}
	}
	return lt, nil
}

// template finds a launch template by id, else by name. Caller holds s.mu.
func (w *world) template(id, name string) (LaunchTemplate, error) {
	if id != "" {
		lt, ok := w.templates[id]
		if !ok {
			return lt, badParamCode("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		return lt, nil
	}
	for _, lt := range w.templates {
		if lt.Name == name {
			return lt, nil
		}
	}
	return LaunchTemplate{}, badParamCode("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
}

// launch is the template's data as an unchecked launch specification.
func (lt LaunchTemplate) launch() *launch {
	return &launch{
		imageID: lt.ImageID, instanceType: lt.InstanceType, keyName: lt.KeyName,
		iamProfileArn: lt.IAMInstanceProfile, templateID: lt.ID,
		subnetID: lt.SubnetID, zone: lt.Zone, groups: lt.SecurityGroupIDs,
		spot: lt.Spot, maxPrice: lt.MaxPrice, ebsOptimized: lt.EBSOptimized, userData: lt.UserData,
		tags: tagList(lt.InstanceTags), volumeTags: tagList(lt.VolumeTags),
	}
}

// tagList is m as tags sorted by key, for stable answers.
func tagList(m map[string]string) []tag {
	if len(m) == 0 {
		return nil
	}
	out := make([]tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, tag{k, m[k]})
	}
	return out
}

// tagMap is tags as a map, nil when empty.
func tagMap(tags []tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// checkLaunch validates l's image, type, subnet, security groups and key
// pair like EC2, and resolves its architecture and subnet. Caller holds s.mu.
func (s *Sandbox) checkLaunch(l *launch) error {
	w := &s.world
	if l.imageID == "" {
		return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter ImageId")
	}
	if !strings.HasPrefix(l.imageID, "ami-") {
		return badParamCode("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", l.imageID)
	}
	im, ok := w.images[l.imageID]
	if !ok {
		return badParamCode("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", l.imageID)
	}
	l.arch = im.Architecture
	if l.instanceType == "" {
		return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceType")
	}
	it, ok := instanceTypeByName(l.instanceType)
	if !ok {
		return badParam("Invalid value '%s' for InstanceType.", l.instanceType)
	}
	if !slices.Contains(it.Archs, im.Architecture) {
		return apiErrorf(http.StatusBadRequest, "InvalidParameterValue",
			"The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.",
			strings.Join(it.Archs, ", "), im.Architecture)
	}
	var err error
	if l.sn, err = s.pickSubnet(l.subnetID, l.zone, l.instanceType); err != nil {
		return err
	}
	if len(l.groups) == 0 {
		l.groups = []string{DefaultSecurityGroupID}
	}
	for _, g := range l.groups {
		if _, ok := w.groups[g]; !ok {
			return badParamCode("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", g, l.sn.VPCID)
		}
	}
	if _, ok := w.keyPairs[l.keyName]; l.keyName != "" && !ok {
		return badParamCode("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", l.keyName)
	}
	return checkTags(l.tags)
}

func badParamCode(code, format string, args ...any) *apiError {
	return apiErrorf(http.StatusBadRequest, code, format, args...)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pickSubnet is the named subnet, else the first subnet of zone, else the
// first subnet with capacity for typ, as EC2 picks a default subnet.
func (s *Sandbox) pickSubnet(id, zone, typ string) (*subnet, error) {
	w := &s.world
	if id != "" {
		sn, ok := w.subnets[id]
		if !ok {
			return nil, badParamCode("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		}
		return sn, nil
	}
	var first *subnet
	for _, k := range sortedKeys(w.subnets) {
		sn := w.subnets[k]
		if zone != "" && sn.Zone != zone {
			continue
		}
		if first == nil {
			first = sn
		}
		if w.available(typ, sn.Zone) != 0 {
			return sn, nil
		}
	}
	if first == nil {
		return nil, badParam("Invalid availability zone: [%s]", zone)
	}
	return first, nil
}
