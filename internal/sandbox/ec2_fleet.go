package sandbox

import (
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
)

// EC2 Fleet: CreateFleet, DescribeFleets, DescribeFleetInstances,
// ModifyFleet and DeleteFleets.

func (s *Sandbox) createFleet(c *call) error {
	p := c.form
	typ := or(p.get("Type"), "maintain")
	if !slices.Contains([]string{"instant", "request", "maintain"}, typ) {
		return badParam("Invalid value '%s' for Type.", typ)
	}
	const t = "TargetCapacitySpecification."
	if !p.has(t + "TotalTargetCapacity") {
		return missing(t + "TotalTargetCapacity")
	}
	total, od, spot, def, err := targetSpec(p, t)
	if err != nil {
		return err
	}
	// CreateFleet, TagSpecification.N: only an instant fleet tags its
	// instances; the others take instance tags from the launch template.
	taggable := []string{"fleet"}
	if typ == "instant" {
		taggable = append(taggable, "instance", "volume")
	}
	tags, err := p.tagSpecs("TagSpecification", taggable...)
	if err != nil {
		return err
	}
	validUntil, err := parseTime(p, "ValidUntil")
	if err != nil {
		return err
	}
	if err := checkClientToken(p, "ClientToken"); err != nil {
		return err
	}

	defer s.update()()
	if f, err := s.knownFleet(p); err != nil || f != nil {
		if err == nil {
			s.writeCreateFleet(c, f)
		}
		return err
	}
	configs, pools, err := s.parseConfigs(p, "LaunchTemplateConfigs", "MaxPrice")
	if err != nil {
		return err
	}
	if len(pools) == 0 {
		return missing("LaunchTemplateConfigs")
	}
	if err := checkFleet(typ, p.get("ExcessCapacityTerminationPolicy"), pools); err != nil {
		return err
	}
	f := &fleet{
		filler: filler{pools: pools, once: typ != "maintain"},
		id:     "fleet-" + uuid.NewString(), typ: typ, token: p.get("ClientToken"), created: c.now,
		tags: tags["fleet"], configs: configs,
		totalTarget: total, onDemandTarget: od, spotTarget: spot, defaultType: def,
		spotStrategy: p.get("SpotOptions.AllocationStrategy"), onDemandStrategy: p.get("OnDemandOptions.AllocationStrategy"),
		excessPolicy: p.get("ExcessCapacityTerminationPolicy"),
		validUntil:   validUntil, terminateAtExpiry: p.boolean("TerminateInstancesWithExpiration"),
	}
	f.extra = append(tags["instance"], tag{"aws:ec2:fleet-id", f.id})
	s.addFleet(f, p)
	if typ == "instant" {
		f.instant, f.instantErrs = s.fill(&f.filler, c.now)
		s.recount()
	}
	s.writeCreateFleet(c, f)
	return nil
}

// targetSpec reads a TargetCapacitySpecification under prefix t.
func targetSpec(p params, t string) (total, onDemand, spot int, def string, err error) {
	if total, err = p.integer(t+"TotalTargetCapacity", 0); err != nil {
		return
	}
	if onDemand, err = p.integer(t+"OnDemandTargetCapacity", 0); err != nil {
		return
	}
	if spot, err = p.integer(t+"SpotTargetCapacity", 0); err != nil {
		return
	}
	def = or(p.get(t+"DefaultTargetCapacityType"), "on-demand")
	switch {
	case total < 0 || onDemand < 0 || spot < 0:
		err = badParam("Target capacities must not be negative.")
	case def != "on-demand" && def != "spot":
		err = badParam("Invalid value '%s' for DefaultTargetCapacityType.", def)
	}
	return
}

func lifecycle(spot bool) string {
	if spot {
		return "spot"
	}
	return "on-demand"
}

func (s *Sandbox) writeCreateFleet(c *call, f *fleet) {
	ec2Reply(c, func(x xmlw) {
		x.str("fleetId", f.id)
		writeFleetErrors(x, f, f.instantErrs)
		if f.typ == "instant" {
			writeFleetInstances(x, f)
		}
	})
}

func writeFleetErrors(x xmlw, f *fleet, errs []fleetError) {
	x.open("errorSet")
	for _, e := range errs {
		x.open("item")
		writeLaunchTemplateAndOverrides(x, f, f.pools[e.pool])
		x.str("lifecycle", lifecycle(e.spot))
		x.str("errorCode", e.code)
		x.str("errorMessage", e.message)
		x.close("item")
	}
	x.close("errorSet")
}

func writeFleetInstances(x xmlw, f *fleet) {
	x.open("fleetInstanceSet")
	for _, l := range f.instant {
		p := f.pools[l.pool]
		x.open("item")
		writeLaunchTemplateAndOverrides(x, f, p)
		x.str("lifecycle", lifecycle(l.spot))
		x.open("instanceIds")
		for _, in := range l.instances {
			x.open("item")
			x.text(in.id)
			x.close("item")
		}
		x.close("instanceIds")
		x.str("instanceType", p.l.instanceType)
		x.close("item")
	}
	x.close("fleetInstanceSet")
}

func writeLaunchTemplateAndOverrides(x xmlw, f *fleet, p *pool) {
	x.open("launchTemplateAndOverrides")
	writeTemplateSpec(x, f.configs[p.config])
	writeOverride(x, "overrides", p.override, "maxPrice")
	x.close("launchTemplateAndOverrides")
}

func writeTemplateSpec(x xmlw, cfg fleetConfig) {
	x.open("launchTemplateSpecification")
	x.str("launchTemplateId", cfg.templateID)
	x.str("launchTemplateName", cfg.templateName)
	x.str("version", or(cfg.version, "1"))
	x.close("launchTemplateSpecification")
}

// writeOverride writes one override; priceKey is maxPrice (EC2 Fleet) or
// spotPrice (Spot Fleet).
func writeOverride(x xmlw, element string, o override, priceKey string) {
	x.open(element)
	x.str("instanceType", o.instanceType)
	x.str(priceKey, o.maxPrice)
	x.str("subnetId", o.subnetID)
	x.str("availabilityZone", o.zone)
	x.str("weightedCapacity", o.weight)
	x.str("priority", o.priority)
	x.str("imageId", o.imageID)
	x.close(element)
}

func writeConfigs(x xmlw, configs []fleetConfig, priceKey string) {
	x.open("launchTemplateConfigs")
	for _, cfg := range configs {
		x.open("item")
		writeTemplateSpec(x, cfg)
		x.open("overrides")
		for _, o := range cfg.overrides {
			writeOverride(x, "item", o, priceKey)
		}
		x.close("overrides")
		x.close("item")
	}
	x.close("launchTemplateConfigs")
}

var fleetFilters = map[string]field[*fleet]{
	"fleet-state":     func(s *Sandbox, f *fleet, now time.Time) string { return f.state(&s.opts, now) },
	"activity-status": func(s *Sandbox, f *fleet, now time.Time) string { return f.activity(&s.opts, now) },
	"type":            func(_ *Sandbox, f *fleet, _ time.Time) string { return f.typ },
}

func (s *Sandbox) describeFleets(c *call) error {
	preds, err := predicates(c, fleetFilters, func(f *fleet) []tag { return f.tags })
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	list, err := s.fleetsOf(c.form.list("FleetId"), false)
	if err != nil {
		return err
	}
	return describe(s, c, list, preds, "fleetSet", 1000, func(x xmlw, f *fleet) {
		od, sp := f.fulfilled(&s.opts, c.now)
		x.open("item")
		x.str("fleetId", f.id)
		x.str("fleetState", f.state(&s.opts, c.now))
		x.str("activityStatus", f.activity(&s.opts, c.now))
		x.str("clientToken", f.token)
		x.time("createTime", f.created)
		x.str("excessCapacityTerminationPolicy", f.excessPolicy)
		x.float("fulfilledCapacity", od+sp)
		x.float("fulfilledOnDemandCapacity", od)
		writeConfigs(x, f.configs, "maxPrice")
		x.open("targetCapacitySpecification")
		x.int("totalTargetCapacity", int64(f.totalTarget))
		x.int("onDemandTargetCapacity", int64(f.onDemandTarget))
		x.int("spotTargetCapacity", int64(f.spotTarget))
		x.str("defaultTargetCapacityType", f.defaultType)
		x.close("targetCapacitySpecification")
		x.bool("terminateInstancesWithExpiration", f.terminateAtExpiry)
		x.str("type", f.typ)
		x.time("validUntil", f.validUntil)
		x.open("spotOptions")
		x.str("allocationStrategy", f.spotStrategy)
		x.close("spotOptions")
		x.open("onDemandOptions")
		x.str("allocationStrategy", f.onDemandStrategy)
		x.close("onDemandOptions")
		x.tagSet(f.tags)
		errs := f.errs
		if f.typ == "instant" {
			errs = f.instantErrs
			writeFleetInstances(x, f)
		}
		writeFleetErrors(x, f, errs)
		x.close("item")
	})
}

// fleetNamed is the fleet id names, of one kind. Caller holds s.mu.
func (s *Sandbox) fleetNamed(id string, spotFleet bool) (*fleet, error) {
	if id == "" {
		if spotFleet {
			return nil, missing("SpotFleetRequestId")
		}
		return nil, missing("FleetId")
	}
	found, err := s.fleetsOf([]string{id}, spotFleet)
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// writeActiveInstances writes a page of the fleet's active instances.
func (s *Sandbox) writeActiveInstances(c *call, f *fleet, idElement string) error {
	members := f.activeMembers(s, c.now)
	pg, err := paginate(c, len(members), 1, 1000)
	if err != nil {
		return err
	}
	ec2Reply(c, func(x xmlw) {
		x.str(idElement, f.id)
		x.open("activeInstanceSet")
		for _, m := range members[pg.start:pg.end] {
			x.open("item")
			x.str("instanceId", m.in.id)
			x.str("instanceType", m.in.instanceType)
			x.str("spotInstanceRequestId", m.in.spotRequestID)
			x.str("instanceHealth", "healthy")
			x.close("item")
		}
		x.close("activeInstanceSet")
		pg.next(x, len(members))
	})
	return nil
}

func (s *Sandbox) describeFleetInstances(c *call) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := s.fleetNamed(c.form.get("FleetId"), false)
	if err != nil {
		return err
	}
	if f.typ == "instant" {
		// DescribeFleetInstances: "does not support fleets of type instant".
		return badParam("DescribeFleetInstances does not support fleets of type 'instant' (%s): use DescribeFleets.", f.id)
	}
	return s.writeActiveInstances(c, f, "fleetId")
}

// modifiable checks that a fleet's target can change.
func modifiable(f *fleet) error {
	switch {
	case f.typ != "maintain" && f.spotFleet:
		// ModifySpotFleetRequest: only maintain; the code as a public
		// report quotes it (jenkinsci/ec2-fleet-plugin#131).
		return apiErrorf(http.StatusBadRequest, "FleetNotInModifiableState", "Fleet Request: %s is not a modifiable fleet request type.", f.id)
	case f.typ != "maintain":
		// ModifyFleet: "You can only modify an EC2 Fleet request of type
		// maintain." (the code is not documented)
		return badParam("Only fleets of type 'maintain' can be modified; this one is of type '%s'.", f.typ)
	case f.deleted:
		return apiErrorf(http.StatusBadRequest, "IncorrectState", "The fleet %s is deleted and cannot be modified.", f.id)
	}
	return nil
}

// retargeted applies a new target: instances above it are terminated when
// the policy says so. Caller holds s.mu.
func (s *Sandbox) retargeted(f *fleet, now time.Time) {
	f.retarget()
	if terminatesExcess(f.excessPolicy) {
		s.shrink(&f.filler, now)
	}
	s.recount()
}

func (s *Sandbox) modifyFleet(c *call) error {
	p := c.form
	const t = "TargetCapacitySpecification."
	defer s.update()()
	f, err := s.fleetNamed(p.get("FleetId"), false)
	if err != nil {
		return err
	}
	if err := modifiable(f); err != nil {
		return err
	}
	total, od, spot, def, err := targetSpec(p, t)
	if err != nil {
		return err
	}
	if p.has(t + "TotalTargetCapacity") {
		f.totalTarget = total
	}
	if p.has(t + "OnDemandTargetCapacity") {
		f.onDemandTarget = od
	}
	if p.has(t + "SpotTargetCapacity") {
		f.spotTarget = spot
	}
	if p.has(t + "DefaultTargetCapacityType") {
		f.defaultType = def
	}
	f.excessPolicy = or(p.get("ExcessCapacityTerminationPolicy"), f.excessPolicy)
	s.retargeted(f, c.now)
	ec2Reply(c, func(x xmlw) { x.bool("return", true) })
	return nil
}

func (s *Sandbox) deleteFleets(c *call) error {
	return s.removeFleetsCall(c, "FleetId", false, deletionXML{"successfulFleetDeletionSet", "unsuccessfulFleetDeletionSet", "currentFleetState", "previousFleetState", "fleetId"})
}

// deletable applies DeleteFleets' limits: at most 25 instant fleets and
// 100 of the other types in one call, 125 in all, else nothing is
// deleted; and an instant fleet is deleted only with its instances.
// Caller holds s.mu.
func (s *Sandbox) deletable(ids []string, terminate bool) error {
	instant, other := 0, 0
	for _, id := range ids {
		f := s.world.fleetByID[id]
		switch {
		case f == nil || f.spotFleet:
		case f.typ == "instant":
			instant++
			if !terminate {
				return badParamCode("InvalidParameterCombination", "Fleet %s is of type 'instant': it can only be deleted with its instances (TerminateInstances true).", id)
			}
		default:
			other++
		}
	}
	if instant > 25 || other > 100 || len(ids) > 125 {
		return badParam("DeleteFleets takes at most 25 instant fleets and 100 request or maintain fleets, 125 in all; got %d instant and %d others of %d ids. No fleet was deleted.", instant, other, len(ids))
	}
	return nil
}

// removeFleetsCall is DeleteFleets or CancelSpotFleetRequests: the fleets
// named idKey.N removed, with their instances when TerminateInstances.
func (s *Sandbox) removeFleetsCall(c *call, idKey string, spotFleet bool, names deletionXML) error {
	ids := c.form.list(idKey)
	if len(ids) == 0 {
		return missing(idKey)
	}
	if !c.form.has("TerminateInstances") {
		return missing("TerminateInstances")
	}
	defer s.update()()
	if !spotFleet {
		if err := s.deletable(ids, c.form.boolean("TerminateInstances")); err != nil {
			return err
		}
	}
	ds := s.removeFleets(ids, spotFleet, c.form.boolean("TerminateInstances"), c.now)
	ec2Reply(c, func(x xmlw) { writeDeletions(x, ds, names) })
	return nil
}

// deletion is the outcome of deleting or cancelling one fleet.
type deletion struct{ id, prev, cur, code, msg string }

// removeFleets deletes (cancels) the fleets ids name, each on its own, as
// DeleteFleets and CancelSpotFleetRequests do. Caller holds s.mu.
func (s *Sandbox) removeFleets(ids []string, spotFleet, terminate bool, now time.Time) []deletion {
	out := make([]deletion, len(ids))
	for i, id := range ids {
		d := deletion{id: id}
		f := s.world.fleetByID[id]
		switch {
		case (f == nil || f.spotFleet != spotFleet) && spotFleet:
			d.code, d.msg = "fleetRequestIdDoesNotExist", "The spot fleet request ID '"+id+"' does not exist"
		case f == nil || f.spotFleet != spotFleet:
			d.code, d.msg = "fleetIdDoesNotExist", "The fleet ID '"+id+"' does not exist"
		case f.deleted && spotFleet:
			d.code, d.msg = "fleetRequestNotInCancellableState", "The spot fleet request '"+id+"' is already cancelled"
		case f.deleted:
			d.code, d.msg = "fleetNotInDeletableState", "The fleet '"+id+"' is already deleted"
		default:
			state := f.state
			if spotFleet {
				state = f.spotState
			}
			d.prev = state(&s.opts, now)
			f.remove(&s.opts, now, terminate)
			d.cur = state(&s.opts, now)
		}
		out[i] = d
	}
	s.recount()
	return out
}

// deletionXML names the elements of a deletion answer.
type deletionXML struct{ ok, failed, cur, prev, id string }

func writeDeletions(x xmlw, ds []deletion, n deletionXML) {
	x.open(n.ok)
	for _, d := range ds {
		if d.code == "" {
			x.open("item")
			x.str(n.cur, d.cur)
			x.str(n.prev, d.prev)
			x.str(n.id, d.id)
			x.close("item")
		}
	}
	x.close(n.ok)
	x.open(n.failed)
	for _, d := range ds {
		if d.code != "" {
			x.open("item")
			x.open("error")
			x.str("code", d.code)
			x.str("message", d.msg)
			x.close("error")
			x.str(n.id, d.id)
			x.close("item")
		}
	}
	x.close(n.failed)
}
