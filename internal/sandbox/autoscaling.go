package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

const (
	autoscalingVersion   = "2011-01-01"
	autoscalingNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
)

// autoscalingService is Auto Scaling's Query API. Groups fulfil like
// maintain fleets (see filler), toward DesiredCapacity, and also terminate
// what is above it.
func autoscalingService() *service {
	return queryService("autoscaling", autoscalingNamespace, map[string]handler{
		"CreateAutoScalingGroup":              (*Sandbox).createAutoScalingGroup,
		"UpdateAutoScalingGroup":              (*Sandbox).updateAutoScalingGroup,
		"DescribeAutoScalingGroups":           (*Sandbox).describeAutoScalingGroups,
		"SetDesiredCapacity":                  (*Sandbox).setDesiredCapacity,
		"DetachInstances":                     (*Sandbox).detachInstances,
		"TerminateInstanceInAutoScalingGroup": (*Sandbox).terminateInstanceInAutoScalingGroup,
		"DeleteAutoScalingGroup":              (*Sandbox).deleteAutoScalingGroup,
		"DescribeScalingActivities":           (*Sandbox).describeScalingActivities,
	})
}

// maxDetach is the most instances one DetachInstances takes.
const maxDetach = 20

func validation(format string, args ...any) *apiError {
	return apiErrorf(http.StatusBadRequest, "ValidationError", format, args...)
}

// asGroup is an Auto Scaling group.
type asGroup struct {
	filler
	name    string
	created time.Time

	minSize, maxSize, desired int

	template  fleetConfig // the launch template, and overrides when mixed
	mixed     bool
	spotOnly  bool // plain launch template asking for spot
	base, pct int  // on-demand base and percentage above it
	spotAlloc string
	odAlloc   string
	spotPrice string
	vpcZones  string
	zones     []string // AvailabilityZones, for the default subnets
	tags      []asgTag
}

type asgTag struct {
	key, value string
	propagate  bool
}

// retarget derives the filler's targets from the desired capacity and the
// instances distribution; the on-demand part is rounded up, as AWS does.
func (g *asGroup) retarget() {
	d := float64(g.desired)
	g.total = d
	switch {
	case g.mixed:
		base := min(float64(g.base), d)
		g.onDemand = min(d, base+math.Ceil((d-base)*float64(g.pct)/100))
	case g.spotOnly:
		g.onDemand = 0
	default:
		g.onDemand = d
	}
}

func (s *Sandbox) arn(g *asGroup) string {
	return "arn:aws:autoscaling:" + s.opts.Region + ":" + s.opts.AccountID + ":autoScalingGroup:" +
		uuid.NewSHA1(uuid.NameSpaceURL, []byte(g.name)).String() + ":autoScalingGroupName/" + g.name
}

// sizes reads MinSize, MaxSize and DesiredCapacity over g's and checks them.
func (g *asGroup) sizes(p params) error {
	var err error
	if g.minSize, err = p.integer("MinSize", g.minSize); err != nil {
		return err
	}
	if g.maxSize, err = p.integer("MaxSize", g.maxSize); err != nil {
		return err
	}
	if g.desired, err = p.integer("DesiredCapacity", max(g.desired, g.minSize)); err != nil {
		return err
	}
	switch {
	case g.minSize < 0 || g.maxSize < g.minSize:
		return validation("The MinSize (%d) must be between 0 and MaxSize (%d).", g.minSize, g.maxSize)
	case g.desired > g.maxSize:
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", g.desired, g.minSize, g.maxSize)
	case g.desired < g.minSize:
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", g.desired, g.minSize, g.maxSize)
	}
	return nil
}

// configure reads the launch template, mixed instances policy and subnets
// the call gives (keeping g's for what it leaves out) into g's pools.
// Caller holds s.mu.
func (s *Sandbox) configure(g *asGroup, p params) error {
	if p.under("LaunchTemplate") || p.under("MixedInstancesPolicy") {
		if err := s.readPolicy(g, p); err != nil {
			return err
		}
	}
	if p.has("VPCZoneIdentifier") {
		g.vpcZones = p.get("VPCZoneIdentifier")
	}
	if zones := p.list("AvailabilityZones.member"); len(zones) > 0 {
		g.zones = zones
	}
	if g.template.templateID == "" {
		return validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	lt, err := s.world.template(g.template.templateID, "")
	if err != nil {
		return validation("%s", asAPIError(err).Message)
	}
	g.spotOnly = !g.mixed && lt.Spot
	overrides := g.template.overrides
	if len(overrides) == 0 {
		overrides = []override{{}}
	}
	subnets := splitList(g.vpcZones)
	if len(subnets) == 0 {
		subnets = s.world.zoneSubnets(g.zones)
	}
	if len(subnets) == 0 {
		// A launch template's subnet does not count.
		return validation("At least one Availability Zone or VPC Subnet is required.")
	}
	var pools []*pool
	for _, o := range overrides {
		for _, sn := range subnets {
			o.subnetID = sn
			made, err := s.poolsOf(lt.launch(), o, 0)
			if err != nil {
				return validation("%s", asAPIError(err).Message)
			}
			pools = append(pools, made...)
		}
	}
	g.pools, g.spotMax = pools, g.spotPrice
	return nil
}

// readPolicy reads LaunchTemplate or MixedInstancesPolicy into g.
func (s *Sandbox) readPolicy(g *asGroup, p params) error {
	const mip = "MixedInstancesPolicy."
	prefix := "LaunchTemplate."
	g.mixed = p.under(mip + "LaunchTemplate")
	if g.mixed {
		prefix = mip + "LaunchTemplate.LaunchTemplateSpecification."
	}
	lt, err := s.world.templateOf(p, prefix)
	if err != nil {
		return validation("%s", asAPIError(err).Message)
	}
	g.template = fleetConfig{templateID: lt.ID, templateName: lt.Name, version: or(p.get(prefix+"Version"), "$Default")}
	if !g.mixed {
		return nil
	}
	const dist = mip + "InstancesDistribution."
	if g.base, err = p.integer(dist+"OnDemandBaseCapacity", 0); err != nil {
		return err
	}
	if g.pct, err = p.integer(dist+"OnDemandPercentageAboveBaseCapacity", 100); err != nil {
		return err
	}
	if g.base < 0 || g.pct < 0 || g.pct > 100 {
		return validation("OnDemandBaseCapacity must be at least 0 and OnDemandPercentageAboveBaseCapacity between 0 and 100.")
	}
	g.spotAlloc = or(p.get(dist+"SpotAllocationStrategy"), "price-capacity-optimized")
	if p.has(dist + "SpotInstancePools") {
		n, err := p.integer(dist+"SpotInstancePools", 0)
		switch {
		case err != nil:
			return err
		case n < 1 || n > 20:
			return validation("SpotInstancePools must be between 1 and 20; got %d.", n)
		case g.spotAlloc != "lowest-price":
			return validation("SpotInstancePools is valid only with the lowest-price SpotAllocationStrategy, not %s.", g.spotAlloc)
		}
	}
	g.odAlloc = or(p.get(dist+"OnDemandAllocationStrategy"), "prioritized")
	g.spotPrice = p.get(dist + "SpotMaxPrice")
	const ov = mip + "LaunchTemplate.Overrides.member"
	for i := range p.size(ov) {
		b := ov + "." + strconv.Itoa(i+1) + "."
		g.template.overrides = append(g.template.overrides, override{instanceType: p.get(b + "InstanceType"), weight: p.get(b + "WeightedCapacity")})
	}
	return nil
}

// propagate sets the tags instances get: the propagated ones and the group's name.
func (g *asGroup) propagate() {
	g.extra = []tag{{"aws:autoscaling:groupName", g.name}}
	for _, t := range g.tags {
		if t.propagate {
			g.extra = append(g.extra, tag{t.key, t.value})
		}
	}
}

func (s *Sandbox) createAutoScalingGroup(c *call) error {
	p := c.form
	name := p.get("AutoScalingGroupName")
	if name == "" || len(name) > 255 {
		return validation("1 validation error detected: Value at 'autoScalingGroupName' failed to satisfy constraint: Member must have length between 1 and 255")
	}
	if !p.has("MinSize") || !p.has("MaxSize") {
		return validation("MinSize and MaxSize are required.")
	}
	g := &asGroup{name: name, created: c.now, filler: filler{trim: true}}
	if err := g.sizes(p); err != nil {
		return err
	}
	for i := range p.size("Tags.member") {
		b := "Tags.member." + strconv.Itoa(i+1) + "."
		g.tags = append(g.tags, asgTag{p.get(b + "Key"), p.get(b + "Value"), p.boolean(b + "PropagateAtLaunch")})
	}
	defer s.update()()
	if s.world.asgs[name] != nil {
		return apiErrorf(http.StatusBadRequest, "AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	if err := s.configure(g, p); err != nil {
		return err
	}
	g.propagate()
	g.retarget()
	s.world.asgs[name] = g
	s.recount()
	queryReply(c, autoscalingNamespace, nil)
	return nil
}

// group is the group name names. Caller holds s.mu.
func (s *Sandbox) group(name string) (*asGroup, error) {
	g := s.world.asgs[name]
	if g == nil {
		return nil, validation("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	return g, nil
}

func (s *Sandbox) updateAutoScalingGroup(c *call) error {
	p := c.form
	defer s.update()()
	g, err := s.group(p.get("AutoScalingGroupName"))
	if err != nil {
		return err
	}
	next := *g
	if err := next.sizes(p); err != nil {
		return err
	}
	if err := s.configure(&next, p); err != nil {
		return err
	}
	*g = next
	g.retarget()
	queryReply(c, autoscalingNamespace, nil)
	return nil
}

func (s *Sandbox) setDesiredCapacity(c *call) error {
	p := c.form
	if !p.has("DesiredCapacity") {
		return validation("DesiredCapacity is required.")
	}
	desired, err := p.integer("DesiredCapacity", 0)
	if err != nil {
		return err
	}
	defer s.update()()
	g, err := s.group(p.get("AutoScalingGroupName"))
	if err != nil {
		return err
	}
	if desired > g.maxSize {
		return validation("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", desired, g.maxSize)
	}
	if desired < g.minSize {
		return validation("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", desired, g.minSize)
	}
	g.desired = desired
	g.retarget()
	queryReply(c, autoscalingNamespace, nil)
	return nil
}

// lifecycleState is the instance's state in Auto Scaling's words.
func lifecycleState(o *Options, in *instance, now time.Time) (state, health string) {
	switch in.state(o, now) {
	case StatePending:
		return "Pending", "Healthy"
	case StateRunning:
		return "InService", "Healthy"
	}
	return "Terminating", "Unhealthy"
}

func (s *Sandbox) describeAutoScalingGroups(c *call) error {
	records, err := c.form.integer("MaxRecords", 50)
	if err != nil {
		return err
	}
	if records < 1 || records > 100 {
		return validation("MaxRecords must be between 1 and 100.")
	}
	from, err := nextToken(c)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := c.form.list("AutoScalingGroupNames.member")
	if limit := max(50, records); len(names) > limit {
		// AutoScalingGroupNames: "By default, you can only specify up to
		// 50 names. You can optionally increase this limit using the
		// MaxRecords property."
		return validation("At most %d AutoScalingGroupNames can be given with MaxRecords %d; got %d.", limit, records, len(names))
	}
	if len(names) == 0 {
		names = sortedKeys(s.world.asgs)
	}
	var list []*asGroup
	for _, n := range names {
		if g := s.world.asgs[n]; g != nil {
			list = append(list, g)
		}
	}
	from = min(from, len(list))
	end := min(from+records, len(list))
	queryReply(c, autoscalingNamespace, func(x xmlw) {
		x.open("AutoScalingGroups")
		for _, g := range list[from:end] {
			s.writeGroup(x, g, c.now)
		}
		x.close("AutoScalingGroups")
		if end < len(list) {
			x.str("NextToken", encodeToken(end))
		}
	})
	return nil
}

func (s *Sandbox) writeGroup(x xmlw, g *asGroup, now time.Time) {
	x.open("member")
	x.str("AutoScalingGroupName", g.name)
	x.str("AutoScalingGroupARN", s.arn(g))
	if g.mixed {
		x.open("MixedInstancesPolicy")
		x.open("LaunchTemplate")
		writeASGTemplate(x, "LaunchTemplateSpecification", g.template)
		x.open("Overrides")
		for _, o := range g.template.overrides {
			x.open("member")
			x.str("InstanceType", o.instanceType)
			x.str("WeightedCapacity", o.weight)
			x.close("member")
		}
		x.close("Overrides")
		x.close("LaunchTemplate")
		x.open("InstancesDistribution")
		x.str("OnDemandAllocationStrategy", g.odAlloc)
		x.int("OnDemandBaseCapacity", int64(g.base))
		x.int("OnDemandPercentageAboveBaseCapacity", int64(g.pct))
		x.str("SpotAllocationStrategy", g.spotAlloc)
		x.str("SpotMaxPrice", g.spotPrice)
		x.close("InstancesDistribution")
		x.close("MixedInstancesPolicy")
	} else {
		writeASGTemplate(x, "LaunchTemplate", g.template)
	}
	x.int("MinSize", int64(g.minSize))
	x.int("MaxSize", int64(g.maxSize))
	x.int("DesiredCapacity", int64(g.desired))
	x.int("DefaultCooldown", 300)
	zones, seen := []string{}, map[string]bool{}
	for _, p := range g.pools {
		if z := p.l.sn.Zone; !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	x.members("AvailabilityZones", zones)
	x.str("HealthCheckType", "EC2")
	x.int("HealthCheckGracePeriod", 300)
	x.open("Instances")
	for _, m := range g.members {
		state, health := lifecycleState(&s.opts, m.in, now)
		x.open("member")
		x.str("InstanceId", m.in.id)
		x.str("InstanceType", m.in.instanceType)
		x.str("AvailabilityZone", m.in.zone)
		x.str("LifecycleState", state)
		x.str("HealthStatus", health)
		writeASGTemplate(x, "LaunchTemplate", g.template)
		x.bool("ProtectedFromScaleIn", false)
		x.str("WeightedCapacity", m.pool.override.weight)
		x.close("member")
	}
	x.close("Instances")
	x.time("CreatedTime", g.created)
	x.str("VPCZoneIdentifier", g.vpcZones)
	x.open("Tags")
	for _, t := range g.tags {
		x.open("member")
		x.str("ResourceId", g.name)
		x.str("ResourceType", "auto-scaling-group")
		x.str("Key", t.key)
		x.open("Value")
		x.text(t.value)
		x.close("Value")
		x.bool("PropagateAtLaunch", t.propagate)
		x.close("member")
	}
	x.close("Tags")
	x.members("TerminationPolicies", []string{"Default"})
	x.bool("NewInstancesProtectedFromScaleIn", false)
	x.str("ServiceLinkedRoleARN", "arn:aws:iam::"+s.opts.AccountID+":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
	x.close("member")
}

func writeASGTemplate(x xmlw, element string, t fleetConfig) {
	x.open(element)
	x.str("LaunchTemplateId", t.templateID)
	x.str("LaunchTemplateName", t.templateName)
	x.str("Version", t.version)
	x.close(element)
}

// memberIndex is the position of instance id among g's members, or -1.
func (g *asGroup) memberIndex(id string) int {
	for i, m := range g.members {
		if m.in.id == id {
			return i
		}
	}
	return -1
}

// decrement lowers the desired capacity by n, not below the minimum.
func (g *asGroup) decrement(n int) error {
	if g.desired-n < g.minSize {
		return validation("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.minSize)
	}
	g.desired -= n
	g.retarget()
	return nil
}

// activity is one scaling activity in Auto Scaling's answer.
type activity struct {
	cause, description string
	failure            string // StatusMessage of a failed activity
}

func (s *Sandbox) writeActivity(x xmlw, element string, g *asGroup, a activity, at time.Time) {
	x.open(element)
	x.str("ActivityId", uuid.NewString())
	x.str("AutoScalingGroupName", g.name)
	x.str("AutoScalingGroupARN", s.arn(g))
	x.str("Cause", "At "+at.UTC().Format(time.RFC3339)+" "+a.cause)
	x.str("Description", a.description)
	x.str("Details", "{}")
	x.time("StartTime", at)
	if a.failure != "" {
		x.time("EndTime", at)
		x.str("StatusCode", "Failed")
		x.str("StatusMessage", a.failure)
		x.int("Progress", 100)
	} else {
		x.str("StatusCode", "InProgress")
		x.int("Progress", 0)
	}
	x.close(element)
}

// describeScalingActivities lists the failed launches of the group's last
// attempt, which is where Auto Scaling tells why a group is short.
func (s *Sandbox) describeScalingActivities(c *call) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, err := s.group(c.form.get("AutoScalingGroupName"))
	if err != nil {
		return err
	}
	queryReply(c, autoscalingNamespace, func(x xmlw) {
		x.open("Activities")
		for _, e := range g.errs {
			s.writeActivity(x, "member", g, activity{
				cause:       "an instance was started in response to a difference between desired and actual capacity.",
				description: "Launching a new EC2 instance. Status Reason: " + e.message,
				failure:     e.code + ": " + e.message,
			}, g.attempted)
		}
		x.close("Activities")
	})
	return nil
}

func (s *Sandbox) detachInstances(c *call) error {
	p := c.form
	if !p.has("ShouldDecrementDesiredCapacity") {
		return validation("ShouldDecrementDesiredCapacity is required.")
	}
	ids := p.list("InstanceIds.member")
	if len(ids) > maxDetach {
		return validation("The number of instances to detach must be at most %d; got %d.", maxDetach, len(ids))
	}
	defer s.update()()
	g, err := s.group(p.get("AutoScalingGroupName"))
	if err != nil {
		return err
	}
	for _, id := range ids {
		i := g.memberIndex(id)
		if i < 0 {
			return validation("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
		// Only InService and Standby instances can be detached.
		if state, _ := lifecycleState(&s.opts, g.members[i].in, c.now); state != "InService" {
			return validation("The instance %s is not in InService or Standby.", id)
		}
	}
	if p.boolean("ShouldDecrementDesiredCapacity") {
		if err := g.decrement(len(ids)); err != nil {
			return err
		}
	}
	for _, id := range ids {
		i := g.memberIndex(id)
		g.members = append(g.members[:i], g.members[i+1:]...)
	}
	queryReply(c, autoscalingNamespace, func(x xmlw) {
		x.open("Activities")
		for _, id := range ids {
			s.writeActivity(x, "member", g, activity{cause: "an instance was detached in response to a user request.", description: "Detaching EC2 instance: " + id}, c.now)
		}
		x.close("Activities")
	})
	return nil
}

func (s *Sandbox) terminateInstanceInAutoScalingGroup(c *call) error {
	p := c.form
	id := p.get("InstanceId")
	if !p.has("ShouldDecrementDesiredCapacity") {
		return validation("ShouldDecrementDesiredCapacity is required.")
	}
	defer s.update()()
	var g *asGroup
	for _, name := range sortedKeys(s.world.asgs) {
		if s.world.asgs[name].memberIndex(id) >= 0 {
			g = s.world.asgs[name]
		}
	}
	if g == nil {
		return validation("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	if p.boolean("ShouldDecrementDesiredCapacity") {
		if err := g.decrement(1); err != nil {
			return err
		}
	}
	if in := g.members[g.memberIndex(id)].in; active(&s.opts, in, c.now) {
		in.terminateAt = c.now
	}
	queryReply(c, autoscalingNamespace, func(x xmlw) {
		s.writeActivity(x, "Activity", g, activity{cause: "an instance was taken out of service in response to a user request.", description: "Terminating EC2 instance: " + id}, c.now)
	})
	return nil
}

func (s *Sandbox) deleteAutoScalingGroup(c *call) error {
	p := c.form
	defer s.update()()
	g, err := s.group(p.get("AutoScalingGroupName"))
	if err != nil {
		return err
	}
	if p.boolean("ForceDelete") {
		g.terminate(&s.opts, c.now)
	} else if len(g.activeMembers(s, c.now)) > 0 {
		return apiErrorf(http.StatusBadRequest, "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
	}
	delete(s.world.asgs, g.name)
	s.recount()
	queryReply(c, autoscalingNamespace, nil)
	return nil
}

// Group is a snapshot of an Auto Scaling group.
type Group struct {
	Name            string   `json:"name"`
	MinSize         int      `json:"minSize"`
	MaxSize         int      `json:"maxSize"`
	DesiredCapacity int      `json:"desiredCapacity"`
	InstanceIDs     []string `json:"instanceIds"` // pending or in service
	Errors          []string `json:"errors,omitempty"`
}

// Groups lists the Auto Scaling groups by name.
func (s *Sandbox) Groups() []Group {
	now := s.Now()
	s.settle(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Group{}
	for _, name := range sortedKeys(s.world.asgs) {
		g := s.world.asgs[name]
		v := Group{Name: name, MinSize: g.minSize, MaxSize: g.maxSize, DesiredCapacity: g.desired}
		v.InstanceIDs, v.Errors = g.snapshot(s, now)
		out = append(out, v)
	}
	return out
}
