package sandbox

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fleet is an EC2 Fleet or a Spot Fleet request: both fulfil the same way
// and differ only on the wire.
type fleet struct {
	filler
	id        string
	spotFleet bool
	typ       string // instant, request or maintain
	token     string
	params    string // the creating call's form, for ClientToken checks
	created   time.Time
	tags      []tag
	configs   []fleetConfig // as given, echoed by Describe; none for LaunchSpecifications

	totalTarget, onDemandTarget, spotTarget int
	defaultType                             string // EC2 Fleet: on-demand or spot
	spotStrategy, onDemandStrategy          string
	excessPolicy                            string // as given
	validUntil                              time.Time
	terminateAtExpiry                       bool
	iamFleetRole                            string
	poolsCount                              int

	deleted, terminated bool // deleted or cancelled, with its instances or not

	instant     []launched // what an instant fleet launched, for its answer
	instantErrs []fleetError
}

// fleetConfig is one LaunchTemplateConfigs entry as given.
type fleetConfig struct {
	templateID, templateName, version string
	overrides                         []override
}

// retarget derives the filler's targets from the fleet's.
func (f *fleet) retarget() {
	total := float64(f.totalTarget)
	f.total = total
	if f.spotFleet || f.defaultType == "spot" {
		f.onDemand = min(float64(f.onDemandTarget), total)
	} else {
		f.onDemand = total - min(float64(f.spotTarget), total)
	}
}

// terminatesExcess tells whether lowering the target terminates instances:
// EC2's default for both kinds of fleet, unless the policy says no.
func terminatesExcess(policy string) bool {
	return policy != "no-termination" && policy != "noTermination"
}

// state is the EC2 Fleet state at now: active, deleted_running,
// deleted_terminating or deleted.
func (f *fleet) state(o *Options, now time.Time) string {
	if !f.deleted {
		return "active"
	}
	running, stopping := false, false
	for _, m := range f.members {
		switch m.in.state(o, now) {
		case StatePending, StateRunning:
			running = true
		case StateShuttingDown:
			stopping = true
		}
	}
	switch {
	case running && !f.terminated:
		return "deleted_running"
	case running || stopping:
		return "deleted_terminating"
	}
	return "deleted"
}

// spotState is the state in Spot Fleet's words.
func (f *fleet) spotState(o *Options, now time.Time) string {
	st := f.state(o, now)
	if rest, ok := strings.CutPrefix(st, "deleted"); ok {
		return "cancelled" + rest
	}
	return st
}

// remove stops the fleet, terminating its instances or not.
func (f *fleet) remove(o *Options, now time.Time, terminate bool) {
	f.deleted, f.terminated, f.stopped = true, terminate, true
	f.change(now, "cancelled")
	if terminate {
		f.terminate(o, now)
	}
}

// change records a change of the fleet's state in its history; EC2 Fleet
// says deleted where Spot Fleet says cancelled.
func (f *fleet) change(now time.Time, subType string) {
	if subType == "cancelled" && !f.spotFleet {
		subType = "deleted"
	}
	f.history = append(f.history, event{at: now, kind: "fleetRequestChange", subType: subType})
}

// expire cancels a fleet whose ValidUntil has passed. Caller holds s.mu.
func (s *Sandbox) expire(f *fleet, now time.Time) bool {
	if f.deleted || f.validUntil.IsZero() || now.Before(f.validUntil) {
		return false
	}
	f.remove(&s.opts, now, f.terminateAtExpiry)
	return true
}

// parseConfigs reads LaunchTemplateConfigs.N (under prefix) into configs
// and checked pools, in walk order. priceKey is the override's price
// field (MaxPrice for EC2 Fleet, SpotPrice for Spot Fleet). Caller holds s.mu.
func (s *Sandbox) parseConfigs(p params, prefix, priceKey string) ([]fleetConfig, []*pool, error) {
	var configs []fleetConfig
	var pools []*pool
	for i := range p.size(prefix) {
		base := prefix + "." + strconv.Itoa(i+1) + "."
		lt, err := s.world.templateOf(p, base+"LaunchTemplateSpecification.")
		if err != nil {
			return nil, nil, err
		}
		if lt.ID == "" {
			return nil, nil, missing("LaunchTemplateSpecification")
		}
		cfg := fleetConfig{templateID: lt.ID, templateName: lt.Name, version: p.get(base + "LaunchTemplateSpecification.Version")}
		n := p.size(base + "Overrides")
		for j := range max(n, 1) {
			ob := base + "Overrides." + strconv.Itoa(j+1) + "."
			o := override{
				instanceType: p.get(ob + "InstanceType"), subnetID: p.get(ob + "SubnetId"),
				zone: p.get(ob + "AvailabilityZone"), imageID: p.get(ob + "ImageId"),
				maxPrice: p.get(ob + priceKey), weight: p.get(ob + "WeightedCapacity"), priority: p.get(ob + "Priority"),
			}
			if n > 0 {
				cfg.overrides = append(cfg.overrides, o)
			}
			made, err := s.poolsOf(lt.launch(), o, i)
			if err != nil {
				return nil, nil, err
			}
			pools = append(pools, made...)
		}
		configs = append(configs, cfg)
	}
	order(pools)
	return configs, pools, nil
}

// poolsOf checks one override over a base launch: one pool per subnet the
// override names (a comma-separated list, as EC2 takes). Caller holds s.mu.
func (s *Sandbox) poolsOf(base *launch, o override, config int) ([]*pool, error) {
	weight, err := parseNumber(o.weight, "WeightedCapacity", 1, true)
	if err != nil {
		return nil, err
	}
	priority, err := parseNumber(o.priority, "Priority", math.Inf(1), false)
	if err != nil {
		return nil, err
	}
	subnets := []string{base.subnetID}
	if o.subnetID != "" {
		subnets = splitList(o.subnetID)
	} else if o.zone != "" {
		subnets = []string{""}
	}
	out := make([]*pool, 0, len(subnets))
	for _, sn := range subnets {
		l := *base
		l.instanceType = or(o.instanceType, l.instanceType)
		l.imageID = or(o.imageID, l.imageID)
		l.subnetID, l.zone = sn, or(o.zone, l.zone)
		if err := s.checkLaunch(&l); err != nil {
			return nil, err
		}
		echo := o
		echo.instanceType, echo.subnetID, echo.zone = l.instanceType, l.sn.ID, l.sn.Zone
		out = append(out, &pool{l: &l, weight: weight, priority: priority, config: config, override: echo})
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func missing(name string) *apiError {
	return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", name)
}

// size is how many entries prefix.1, prefix.2, ... the form has, whatever
// their members.
func (p params) size(prefix string) int {
	n := 0
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		idx, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(idx); err == nil && i > n {
			n = i
		}
	}
	return n
}

// under tells whether the form has any member of structure prefix.
func (p params) under(prefix string) bool {
	for k := range p {
		if strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}

// parseTime reads an optional ISO 8601 time.
func parseTime(p params, key string) (time.Time, error) {
	v := p.get(key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, badParam("Invalid value '%s' for %s.", v, key)
	}
	return t, nil
}

// purgeFleets forgets deleted fleets once all their instances are gone
// from EC2's answers. Caller holds s.mu.
func (s *Sandbox) purgeFleets(now time.Time) {
	w := &s.world
	kept := w.fleets[:0]
	for _, f := range w.fleets {
		if !f.deleted || slices.ContainsFunc(f.members, func(m member) bool { return !m.in.gone(&s.opts, now) }) {
			kept = append(kept, f)
			continue
		}
		delete(w.fleetByID, f.id)
		if f.token != "" {
			delete(w.fleetTokens, tokenKey(f.token, f.spotFleet))
		}
	}
	clear(w.fleets[len(kept):])
	w.fleets = kept
}

// knownFleet is the fleet an earlier call with the same ClientToken made,
// nil when there is none, or IdempotentParameterMismatch when that call's
// parameters differ. Caller holds s.mu.
func (s *Sandbox) knownFleet(p params) (*fleet, error) {
	key := ""
	if token := p.get("ClientToken"); token != "" {
		key = tokenKey(token, false)
	}
	if token := p.get(sfc + "ClientToken"); token != "" {
		key = tokenKey(token, true)
	}
	f := s.world.fleetTokens[key]
	if key == "" || f == nil {
		return nil, nil
	}
	if f.params != url.Values(p).Encode() {
		return nil, apiErrorf(http.StatusBadRequest, "IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
	}
	return f, nil
}

// tokenKey keeps the ClientTokens of EC2 Fleets and Spot Fleets apart.
func tokenKey(token string, spotFleet bool) string {
	if spotFleet {
		return "sfr:" + token
	}
	return "fleet:" + token
}

// addFleet records a new fleet. Caller holds s.mu.
func (s *Sandbox) addFleet(f *fleet, p params) {
	w := &s.world
	f.params = url.Values(p).Encode()
	if f.token != "" {
		w.fleetTokens[tokenKey(f.token, f.spotFleet)] = f
	}
	w.fleets = append(w.fleets, f)
	w.fleetByID[f.id] = f
	f.change(f.created, "submitted")
	f.change(f.created, "active")
	f.retarget()
	if f.typ != "instant" {
		// Asynchronous: the first launch waits for FleetDelay.
		f.due = f.created.Add(s.opts.FleetDelay)
	}
	s.recount()
}

// fleetsOf finds the fleets ids name, of one kind, failing like EC2 on any
// unknown id. Caller holds s.mu.
func (s *Sandbox) fleetsOf(ids []string, spotFleet bool) ([]*fleet, error) {
	var all []*fleet
	for _, f := range s.world.fleets {
		if f.spotFleet == spotFleet {
			all = append(all, f)
		}
	}
	return pick(all, func(f *fleet) string { return f.id }, ids, func(ids string) error {
		if spotFleet {
			return badParamCode("InvalidSpotFleetRequestId.NotFound", "The spot fleet request ID '%s' does not exist", ids)
		}
		return badParamCode("InvalidFleetId.NotFound", "The fleet ID '%s' does not exist", ids)
	})
}

// ec2FleetEventTypes are EC2 Fleet's names of Spot Fleet's event types.
var ec2FleetEventTypes = map[string]string{
	"error": "service-error", "instanceChange": "instance-change", "fleetRequestChange": "fleet-change",
}

// describeHistory is DescribeFleetHistory or
// DescribeSpotFleetRequestHistory: the fleet named idKey's events since
// StartTime, of EventType when given, oldest first.
func (s *Sandbox) describeHistory(c *call, idKey string, spotFleet bool) error {
	p := c.form
	if !p.has("StartTime") {
		return missing("StartTime")
	}
	since, err := parseTime(p, "StartTime")
	if err != nil {
		return err
	}
	kind := p.get("EventType")
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := s.fleetNamed(p.get(idKey), spotFleet)
	if err != nil {
		return err
	}
	var events []event
	for _, e := range f.history {
		if !spotFleet {
			e.kind = ec2FleetEventTypes[e.kind]
		}
		if !e.at.Before(since) && (kind == "" || e.kind == kind) {
			events = append(events, e)
		}
	}
	pg, err := paginate(c, len(events), 1, 1000)
	if err != nil {
		return err
	}
	ec2Reply(c, func(x xmlw) {
		x.str(strings.ToLower(idKey[:1])+idKey[1:], f.id)
		x.time("startTime", since)
		x.time("lastEvaluatedTime", c.now)
		x.open("historyRecordSet")
		for _, e := range events[pg.start:pg.end] {
			x.open("item")
			x.open("eventInformation")
			x.str("eventSubType", e.subType)
			x.str("eventDescription", e.description)
			x.str("instanceId", e.instanceID)
			x.close("eventInformation")
			x.str("eventType", e.kind)
			x.time("timestamp", e.at)
			x.close("item")
		}
		x.close("historyRecordSet")
		pg.next(x, len(events))
	})
	return nil
}

// Fleet is a snapshot of an EC2 Fleet or Spot Fleet request.
type Fleet struct {
	ID                string   `json:"id"`
	Kind              string   `json:"kind"` // ec2-fleet or spot-fleet
	Type              string   `json:"type"` // instant, request or maintain
	State             string   `json:"state"`
	ActivityStatus    string   `json:"activityStatus"`
	TargetCapacity    int      `json:"targetCapacity"`
	OnDemandCapacity  float64  `json:"onDemandCapacity"` // target, in units
	FulfilledCapacity float64  `json:"fulfilledCapacity"`
	InstanceIDs       []string `json:"instanceIds"` // active members
	Errors            []string `json:"errors,omitempty"`
}

// Fleets lists the EC2 Fleets and Spot Fleet requests, deleted ones
// included, in creation order.
func (s *Sandbox) Fleets() []Fleet {
	now := s.Now()
	s.settle(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Fleet{}
	for _, f := range s.world.fleets {
		od, sp := f.fulfilled(&s.opts, now)
		v := Fleet{
			ID: f.id, Kind: "ec2-fleet", Type: f.typ, State: f.state(&s.opts, now),
			ActivityStatus: f.activity(&s.opts, now), TargetCapacity: f.totalTarget,
			OnDemandCapacity: f.onDemand, FulfilledCapacity: od + sp,
		}
		if f.spotFleet {
			v.Kind, v.State = "spot-fleet", f.spotState(&s.opts, now)
		}
		v.InstanceIDs, v.Errors = f.snapshot(s, now)
		out = append(out, v)
	}
	return out
}
