package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EC2 instance states and their codes.
const (
	StatePending      = "pending"
	StateRunning      = "running"
	StateShuttingDown = "shutting-down"
	StateTerminated   = "terminated"
	StateStopping     = "stopping"
	StateStopped      = "stopped"
)

var stateCodes = map[string]int64{
	StatePending: 0, StateRunning: 16, StateShuttingDown: 32,
	StateTerminated: 48, StateStopping: 64, StateStopped: 80,
}

// instance is one launched instance. Its state is never stored: it follows
// from the timestamps and the sandbox clock on every read, so idle instances
// cost nothing.
type instance struct {
	seq           uint64
	id            string
	reservationID string
	clientToken   string
	launchIndex   int
	imageID       string
	instanceType  string
	arch          string
	subnetID      string
	zone          string
	vpcID         string
	privateIP     string
	privateDNS    string
	keyName       string
	groups        []string
	iamProfileArn string
	templateID    string
	ebsOptimized  bool
	tags          []tag // copy on write: readers may hold the old slice
	volumeTags    []tag

	spotRequestID string // "" for on-demand
	spotMaxPrice  string
	spotTags      []tag

	launched    time.Time
	terminateAt time.Time // when TerminateInstances was called
	interruptAt time.Time // when the spot interruption notice was given
}

// shutdown is when the instance began shutting down, and whether a spot
// interruption (rather than the user) did it.
func (in *instance) shutdown(o *Options) (at time.Time, interrupted bool, ok bool) {
	at = in.terminateAt
	if !in.interruptAt.IsZero() {
		if end := in.interruptAt.Add(o.SpotNotice); at.IsZero() || end.Before(at) {
			at, interrupted = end, true
		}
	}
	return at, interrupted, !at.IsZero()
}

// state is the instance's state at now.
func (in *instance) state(o *Options, now time.Time) string {
	if at, _, ok := in.shutdown(o); ok && !now.Before(at) {
		if now.Before(at.Add(o.ShutdownDelay)) {
			return StateShuttingDown
		}
		return StateTerminated
	}
	if now.Before(in.launched.Add(o.PendingDelay)) {
		return StatePending
	}
	return StateRunning
}

// gone tells whether the instance has dropped out of EC2's answers for good.
func (in *instance) gone(o *Options, now time.Time) bool {
	at, _, ok := in.shutdown(o)
	return ok && !now.Before(at.Add(o.ShutdownDelay+o.TerminatedRetention))
}

// visible tells whether Describe and the other calls by id see the instance.
func (in *instance) visible(o *Options, now time.Time) bool {
	return !now.Before(in.launched.Add(o.ConsistencyDelay)) && !in.gone(o, now)
}

// Instance is a snapshot of one sandbox instance.
type Instance struct {
	ID               string            `json:"id"`
	ReservationID    string            `json:"reservationId"`
	Type             string            `json:"type"`
	ImageID          string            `json:"imageId"`
	State            string            `json:"state"`
	SubnetID         string            `json:"subnetId"`
	Zone             string            `json:"zone"`
	PrivateIP        string            `json:"privateIp"`
	PrivateDNS       string            `json:"privateDns"`
	KeyName          string            `json:"keyName,omitempty"`
	SecurityGroupIDs []string          `json:"securityGroupIds,omitempty"`
	LaunchTemplateID string            `json:"launchTemplateId,omitempty"`
	ClientToken      string            `json:"clientToken,omitempty"`
	Tags             map[string]string `json:"tags"`
	Spot             bool              `json:"spot"`
	SpotRequestID    string            `json:"spotRequestId,omitempty"`
	LaunchTime       time.Time         `json:"launchTime"`
	// Visible is false while the consistency delay hides the instance.
	Visible bool `json:"visible"`
}

// Instances lists every instance not yet purged, in launch order.
func (s *Sandbox) Instances() []Instance {
	return s.InstancesWithTag("", "")
}

// InstancesWithTag lists the instances carrying tag key (with value, unless
// value is ""); key "" lists all.
func (s *Sandbox) InstancesWithTag(key, value string) []Instance {
	now := s.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Instance{}
	for _, in := range s.world.instances {
		if in.gone(&s.opts, now) || (key != "" && !hasTag(in.tags, key, value)) {
			continue
		}
		tags := make(map[string]string, len(in.tags))
		for _, t := range in.tags {
			tags[t.Key] = t.Value
		}
		out = append(out, Instance{
			ID: in.id, ReservationID: in.reservationID, Type: in.instanceType, ImageID: in.imageID,
			State: in.state(&s.opts, now), SubnetID: in.subnetID, Zone: in.zone,
			PrivateIP: in.privateIP, PrivateDNS: in.privateDNS, KeyName: in.keyName,
			SecurityGroupIDs: slices.Clone(in.groups), LaunchTemplateID: in.templateID,
			ClientToken: in.clientToken, Tags: tags, Spot: in.spotRequestID != "",
			SpotRequestID: in.spotRequestID, LaunchTime: in.launched,
			Visible: in.visible(&s.opts, now),
		})
	}
	return out
}

func hasTag(tags []tag, key, value string) bool {
	for _, t := range tags {
		if t.Key == key && (value == "" || t.Value == value) {
			return true
		}
	}
	return false
}

// launchToken remembers the first launch made with a ClientToken.
type launchToken struct {
	fingerprint   string // the call's parameters
	reservationID string
	instanceIDs   []string
	groups        []string
}

// launch is a RunInstances call resolved against the world.
type launch struct {
	imageID, arch, instanceType string
	keyName, iamProfileArn      string
	templateID                  string
	sn                          *subnet
	groups                      []string
	min, max                    int
	spot                        bool
	maxPrice                    string
	ebsOptimized                bool
	tags, volumeTags, spotTags  []tag
}

func (s *Sandbox) runInstances(c *call) error {
	defer s.update()()
	w := &s.world
	s.purge(c.now)

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
	n := l.max
	if avail := w.available(l.instanceType, l.sn.Zone); avail >= 0 && avail < n {
		n = avail
	}
	if n < l.min {
		return apiErrorf(http.StatusInternalServerError, "InsufficientInstanceCapacity",
			"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing %s.",
			l.instanceType, l.sn.Zone, l.instanceType, strings.Join(w.otherZones(l.sn.Zone), ", "))
	}
	if free := len(l.sn.free) + int(l.sn.size()-1-l.sn.next); free < n {
		return apiErrorf(http.StatusBadRequest, "InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", l.sn.ID)
	}
	w.take(l.instanceType, l.sn.Zone, n)

	w.seq++
	resID := fmt.Sprintf("r-%08x%09x", s.epoch, w.seq)
	ids := make([]string, n)
	for i := range n {
		w.seq++
		ip := l.sn.allocate()
		in := &instance{
			seq: w.seq, id: fmt.Sprintf("i-%08x%09x", s.epoch, w.seq), reservationID: resID,
			clientToken: token, launchIndex: i, imageID: l.imageID, instanceType: l.instanceType,
			arch: l.arch, subnetID: l.sn.ID, zone: l.sn.Zone, vpcID: l.sn.VPCID,
			privateIP: ip, privateDNS: s.privateDNS(ip), keyName: l.keyName, groups: l.groups,
			iamProfileArn: l.iamProfileArn, templateID: l.templateID, ebsOptimized: l.ebsOptimized,
			tags: l.tags, volumeTags: l.volumeTags, launched: c.now,
		}
		if l.spot {
			in.spotRequestID = fmt.Sprintf("sir-%08x", s.epoch+uint32(w.seq))
			in.spotMaxPrice = l.maxPrice
			in.spotTags = l.spotTags
			w.bySpotID[in.spotRequestID] = in
		}
		w.instances = append(w.instances, in)
		w.byID[in.id] = in
		ids[i] = in.id
	}
	if token != "" {
		w.tokens[token] = &launchToken{fingerprint: fingerprint, reservationID: resID, instanceIDs: ids, groups: l.groups}
	}
	s.writeReservation(c, resID, l.groups, ids)
	return nil
}

// resolveLaunch validates a RunInstances call like EC2, filling what it
// leaves out from its launch template and the defaults. Caller holds s.mu.
func (s *Sandbox) resolveLaunch(p params) (*launch, error) {
	w := &s.world
	var lt LaunchTemplate
	if id, name := p.get("LaunchTemplate.LaunchTemplateId"), p.get("LaunchTemplate.LaunchTemplateName"); id != "" || name != "" {
		var ok bool
		if lt, ok = w.templates[id]; id != "" && !ok {
			return nil, badParamCode("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		if id == "" {
			ok = false
			for _, t := range w.templates {
				if t.Name == name {
					lt, ok = t, true
				}
			}
			if !ok {
				return nil, badParamCode("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
			}
		}
	}
	l := &launch{
		imageID:      or(p.get("ImageId"), lt.ImageID),
		instanceType: or(p.get("InstanceType"), lt.InstanceType),
		keyName:      or(p.get("KeyName"), lt.KeyName),
		templateID:   lt.ID,
		groups:       p.list("SecurityGroupId"),
		spot:         p.get("InstanceMarketOptions.MarketType") == "spot" || lt.Spot,
		maxPrice:     p.get("InstanceMarketOptions.SpotOptions.MaxPrice"),
		ebsOptimized: p.boolean("EbsOptimized"),
	}
	var err error
	if l.min, err = p.integer("MinCount", 0); err != nil {
		return nil, err
	}
	if l.max, err = p.integer("MaxCount", 0); err != nil {
		return nil, err
	}
	if l.min < 1 || l.max < l.min {
		return nil, badParam("Value (%d) for parameter minCount is invalid. Expected a positive integer not above maxCount (%d).", l.min, l.max)
	}
	if l.imageID == "" {
		return nil, apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter ImageId")
	}
	if !strings.HasPrefix(l.imageID, "ami-") {
		return nil, badParamCode("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", l.imageID)
	}
	im, ok := w.images[l.imageID]
	if !ok {
		return nil, badParamCode("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", l.imageID)
	}
	l.arch = im.Architecture
	if l.instanceType == "" {
		return nil, apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceType")
	}
	it, ok := instanceTypeByName(l.instanceType)
	if !ok {
		return nil, badParam("Invalid value '%s' for InstanceType.", l.instanceType)
	}
	if !slices.Contains(it.Archs, im.Architecture) {
		return nil, apiErrorf(http.StatusBadRequest, "InvalidParameterValue",
			"The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.",
			strings.Join(it.Archs, ", "), im.Architecture)
	}
	if l.sn, err = s.pickSubnet(or(p.get("SubnetId"), lt.SubnetID), p.get("Placement.AvailabilityZone"), l.instanceType); err != nil {
		return nil, err
	}
	if len(l.groups) == 0 {
		l.groups = lt.SecurityGroupIDs
	}
	if len(l.groups) == 0 {
		l.groups = []string{DefaultSecurityGroupID}
	}
	for _, g := range l.groups {
		if _, ok := w.groups[g]; !ok {
			return nil, badParamCode("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", g, l.sn.VPCID)
		}
	}
	if _, ok := w.keyPairs[l.keyName]; l.keyName != "" && !ok {
		return nil, badParamCode("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", l.keyName)
	}
	switch arn, name := p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name"); {
	case arn != "":
		l.iamProfileArn = arn
	case name != "":
		l.iamProfileArn = "arn:aws:iam::" + s.opts.AccountID + ":instance-profile/" + name
	}
	for i := range p.count("TagSpecification", "ResourceType") {
		base := "TagSpecification." + strconv.Itoa(i+1)
		tags := p.tags(base + ".Tag")
		switch rt := p.get(base + ".ResourceType"); rt {
		case "instance":
			l.tags = append(l.tags, tags...)
		case "volume":
			l.volumeTags = append(l.volumeTags, tags...)
		case "spot-instances-request":
			l.spotTags = append(l.spotTags, tags...)
		case "network-interface":
		default:
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
	}
	if err := checkTags(l.tags); err != nil {
		return nil, err
	}
	return l, nil
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

func (s *Sandbox) privateDNS(ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if s.opts.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + s.opts.Region + ".compute.internal"
}

// purge forgets instances past their retention. Caller holds s.mu.
func (s *Sandbox) purge(now time.Time) {
	w := &s.world
	kept := w.instances[:0]
	for _, in := range w.instances {
		if !in.gone(&s.opts, now) {
			kept = append(kept, in)
			continue
		}
		delete(w.byID, in.id)
		delete(w.bySpotID, in.spotRequestID)
		if sn := w.subnets[in.subnetID]; sn != nil {
			sn.release(in.privateIP)
		}
	}
	clear(w.instances[len(kept):])
	w.instances = kept
}

// writeReservation answers RunInstances with one reservation.
func (s *Sandbox) writeReservation(c *call, resID string, groups, ids []string) {
	ec2Reply(c, func(x xmlw) {
		x.str("reservationId", resID)
		x.str("ownerId", s.opts.AccountID)
		s.writeGroups(x, groups)
		x.open("instancesSet")
		for _, id := range ids {
			if in := s.world.byID[id]; in != nil {
				s.writeInstance(x, in, c.now)
			}
		}
		x.close("instancesSet")
	})
}

func (s *Sandbox) writeGroups(x xmlw, groups []string) {
	x.open("groupSet")
	for _, g := range groups {
		x.open("item")
		x.str("groupId", g)
		x.str("groupName", s.world.groups[g])
		x.close("item")
	}
	x.close("groupSet")
}

// writeInstance writes one instancesSet item. Caller holds s.mu.
func (s *Sandbox) writeInstance(x xmlw, in *instance, now time.Time) {
	state := in.state(&s.opts, now)
	x.open("item")
	x.str("instanceId", in.id)
	x.str("imageId", in.imageID)
	writeState(x, "instanceState", state)
	x.str("privateDnsName", in.privateDNS)
	x.str("keyName", in.keyName)
	x.int("amiLaunchIndex", int64(in.launchIndex))
	x.str("instanceType", in.instanceType)
	x.time("launchTime", in.launched)
	x.open("placement")
	x.str("availabilityZone", in.zone)
	x.str("tenancy", "default")
	x.close("placement")
	x.open("monitoring")
	x.str("state", "disabled")
	x.close("monitoring")
	x.str("subnetId", in.subnetID)
	x.str("vpcId", in.vpcID)
	x.str("privateIpAddress", in.privateIP)
	s.writeGroups(x, in.groups)
	if at, interrupted, ok := in.shutdown(&s.opts); ok && !now.Before(at) {
		code, msg := "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"
		if interrupted {
			code, msg = "Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination"
		}
		x.str("reason", "User initiated ("+at.Format("2006-01-02 15:04:05 MST")+")")
		x.open("stateReason")
		x.str("code", code)
		x.str("message", msg)
		x.close("stateReason")
	}
	x.str("architecture", in.arch)
	x.str("rootDeviceType", "ebs")
	x.str("rootDeviceName", "/dev/xvda")
	if in.iamProfileArn != "" {
		x.open("iamInstanceProfile")
		x.str("arn", in.iamProfileArn)
		x.close("iamInstanceProfile")
	}
	x.bool("ebsOptimized", in.ebsOptimized)
	if in.spotRequestID != "" {
		x.str("instanceLifecycle", "spot")
		x.str("spotInstanceRequestId", in.spotRequestID)
	}
	x.str("virtualizationType", "hvm")
	x.str("clientToken", in.clientToken)
	x.tagSet(in.tags)
	x.str("hypervisor", "xen")
	x.close("item")
}

func writeState(x xmlw, element, state string) {
	x.open(element)
	x.int("code", stateCodes[state])
	x.str("name", state)
	x.close(element)
}

// lookup finds the visible instances with ids, failing like EC2 on any
// malformed or unknown id. Caller holds s.mu.
func (s *Sandbox) lookup(ids []string, now time.Time) ([]*instance, error) {
	out := make([]*instance, 0, len(ids))
	var missing []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "i-") {
			return nil, badParamCode("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
		in := s.world.byID[id]
		if in == nil || !in.visible(&s.opts, now) {
			missing = append(missing, id)
			continue
		}
		out = append(out, in)
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, badParamCode("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return nil, badParamCode("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
}

// instanceFilters maps DescribeInstances filter names to the field they test.
var instanceFilters = map[string]field[*instance]{
	"instance-id":         func(_ *Sandbox, in *instance, _ time.Time) string { return in.id },
	"instance-state-name": func(s *Sandbox, in *instance, now time.Time) string { return in.state(&s.opts, now) },
	"instance-state-code": func(s *Sandbox, in *instance, now time.Time) string {
		return strconv.FormatInt(stateCodes[in.state(&s.opts, now)], 10)
	},
	"instance-type":            func(_ *Sandbox, in *instance, _ time.Time) string { return in.instanceType },
	"image-id":                 func(_ *Sandbox, in *instance, _ time.Time) string { return in.imageID },
	"subnet-id":                func(_ *Sandbox, in *instance, _ time.Time) string { return in.subnetID },
	"vpc-id":                   func(_ *Sandbox, in *instance, _ time.Time) string { return in.vpcID },
	"availability-zone":        func(_ *Sandbox, in *instance, _ time.Time) string { return in.zone },
	"reservation-id":           func(_ *Sandbox, in *instance, _ time.Time) string { return in.reservationID },
	"client-token":             func(_ *Sandbox, in *instance, _ time.Time) string { return in.clientToken },
	"key-name":                 func(_ *Sandbox, in *instance, _ time.Time) string { return in.keyName },
	"private-ip-address":       func(_ *Sandbox, in *instance, _ time.Time) string { return in.privateIP },
	"private-dns-name":         func(_ *Sandbox, in *instance, _ time.Time) string { return in.privateDNS },
	"spot-instance-request-id": func(_ *Sandbox, in *instance, _ time.Time) string { return in.spotRequestID },
	"instance-lifecycle": func(_ *Sandbox, in *instance, _ time.Time) string {
		if in.spotRequestID != "" {
			return "spot"
		}
		return ""
	},
}

func instanceTags(in *instance) []tag { return in.tags }

func (s *Sandbox) describeInstances(c *call) error {
	ids := c.form.list("InstanceId")
	if len(ids) > 0 && c.form.has("MaxResults") {
		return badParamCode("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	preds, err := predicates(c, instanceFilters, instanceTags)
	if err != nil {
		return err
	}
	max, err := maxResults(c, 5, 1000)
	if err != nil {
		return err
	}
	// NextToken is the seq of the next instance: stable while others launch.
	from, err := nextToken(c)
	if err != nil {
		return err
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	candidates := s.world.instances
	if len(ids) > 0 {
		if candidates, err = s.lookup(ids, c.now); err != nil {
			return err
		}
		slices.SortFunc(candidates, func(a, b *instance) int { return cmp.Compare(a.seq, b.seq) })
		candidates = slices.CompactFunc(candidates, func(a, b *instance) bool { return a == b })
	}
	ec2Reply(c, func(x xmlw) {
		x.open("reservationSet")
		n, open := 0, ""
		var next *instance
		for _, in := range candidates {
			if in.seq < uint64(from) || !in.visible(&s.opts, c.now) || !matchAll(s, preds, in, c.now) {
				continue
			}
			if max > 0 && n == max {
				next = in
				break
			}
			if in.reservationID != open {
				if open != "" {
					x.close("instancesSet")
					x.close("item")
				}
				open = in.reservationID
				x.open("item")
				x.str("reservationId", in.reservationID)
				x.str("ownerId", s.opts.AccountID)
				s.writeGroups(x, in.groups)
				x.open("instancesSet")
			}
			s.writeInstance(x, in, c.now)
			n++
		}
		if open != "" {
			x.close("instancesSet")
			x.close("item")
		}
		x.close("reservationSet")
		if next != nil {
			x.str("nextToken", encodeToken(int(next.seq)))
		}
	})
	return nil
}

func (s *Sandbox) terminateInstances(c *call) error {
	ids := c.form.list("InstanceId")
	if len(ids) == 0 {
		return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	defer s.update()()
	found, err := s.lookup(ids, c.now)
	if err != nil {
		return err
	}
	ec2Reply(c, func(x xmlw) {
		x.open("instancesSet")
		for _, in := range found {
			prev := in.state(&s.opts, c.now)
			if in.terminateAt.IsZero() && prev != StateShuttingDown && prev != StateTerminated {
				in.terminateAt = c.now
			}
			x.open("item")
			x.str("instanceId", in.id)
			writeState(x, "currentState", in.state(&s.opts, c.now))
			writeState(x, "previousState", prev)
			x.close("item")
		}
		x.close("instancesSet")
	})
	return nil
}
