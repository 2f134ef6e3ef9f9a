package sandbox

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"
)

// Fulfilment shared by EC2 Fleet, Spot Fleet and Auto Scaling groups: each
// owns a filler, which launches toward an on-demand and a total target by
// walking its pools, within the world's capacity limits. Launches after
// the creating call happen lazily: every call first settles the live
// fillers at the sandbox clock (settle), so no goroutine is needed.

// DefaultRetryDelay is the least time between a filler's launch attempts
// after one fell short of capacity.
const DefaultRetryDelay = 30 * time.Second

// override is one LaunchTemplateConfigs override as given, echoed in answers.
type override struct {
	instanceType, subnetID, zone, imageID string
	maxPrice, weight, priority            string // "" when not given
}

// pool is one launch specification a filler draws from: a launch template
// with one override's type, subnet, weight and priority, checked at creation.
type pool struct {
	l        *launch
	weight   float64
	priority float64 // +Inf when not given
	config   int     // index of the launch template config it comes from
	override override
}

// member is an instance a filler launched and still counts.
type member struct {
	in   *instance
	pool *pool // survives the pools being replaced (UpdateAutoScalingGroup)
}

// fleetError is a launch a filler could not make, as EC2 reports it.
type fleetError struct {
	pool          int
	spot          bool
	code, message string
}

// launched is what one attempt started in one pool and market.
type launched struct {
	pool      int
	spot      bool
	instances []*instance
}

type filler struct {
	pools    []*pool // in walk order
	members  []member
	total    float64 // target capacity, in weight units
	onDemand float64 // part of total wanted on-demand; the rest is spot
	spotMax  string  // maximum spot price when a pool gives none

	once      bool // launch in one attempt only (request fleets)
	trim      bool // terminate capacity above the target at once (groups)
	stopped   bool // deleted or expired: launches no more
	tried     bool
	attempted time.Time    // when the last launch attempt ran
	due       time.Time    // next launch attempt; zero when none is scheduled
	errs      []fleetError // of the last attempt
	extra     []tag        // tags every instance gets on top of its pool's
	history   []event      // for DescribeFleetHistory and its Spot Fleet twin
}

// event is one history record: what a fleet did, launched, or failed to.
type event struct {
	at                         time.Time
	kind, subType, description string // eventType: error, instanceChange or fleetRequestChange
	instanceID                 string
}

// live tells whether the filler may still launch.
func (f *filler) live() bool { return !f.stopped && !(f.once && f.tried) }

func active(o *Options, in *instance, now time.Time) bool {
	st := in.state(o, now)
	return st == StatePending || st == StateRunning
}

// fulfilled is the capacity of the active members, on-demand and spot.
func (f *filler) fulfilled(o *Options, now time.Time) (onDemand, spot float64) {
	for _, m := range f.members {
		if !active(o, m.in, now) {
			continue
		}
		if m.in.spotRequestID != "" {
			spot += m.pool.weight
		} else {
			onDemand += m.pool.weight
		}
	}
	return onDemand, spot
}

// needs is the capacity to launch now per market: each market's shortfall,
// within the total's, so capacity left above a lowered target is not
// replaced in either market.
func (f *filler) needs(o *Options, now time.Time) (onDemand, spot float64) {
	od, sp := f.fulfilled(o, now)
	room := f.total - od - sp
	if room <= 0 {
		return 0, 0
	}
	onDemand = min(max(0, f.onDemand-od), room)
	spot = min(max(0, f.total-f.onDemand-sp), room-onDemand)
	return onDemand, spot
}

// activity is EC2's activityStatus: fulfilled, pending_fulfillment, or
// error when the last attempt fell short.
func (f *filler) activity(o *Options, now time.Time) string {
	od, sp := f.fulfilled(o, now)
	switch {
	case od+sp >= f.total:
		return "fulfilled"
	case f.tried && len(f.errs) > 0:
		return "error"
	}
	return "pending_fulfillment"
}

// step trims, prunes terminated members, and launches when due. Caller
// holds s.mu; the result tells whether anything changed.
func (s *Sandbox) step(f *filler, now time.Time) bool {
	changed := f.trim && s.shrink(f, now)
	kept := f.members[:0]
	for _, m := range f.members {
		if m.in.state(&s.opts, now) == StateTerminated {
			changed = true
			continue
		}
		kept = append(kept, m)
	}
	clear(f.members[len(kept):])
	f.members = kept
	if !f.live() {
		return changed
	}
	if od, sp := f.needs(&s.opts, now); od+sp <= 0 {
		if !f.due.IsZero() {
			f.due, changed = time.Time{}, true
		}
		return changed
	}
	if f.due.IsZero() {
		f.due = now.Add(s.opts.FleetDelay)
		changed = true
	}
	if now.Before(f.due) {
		return changed
	}
	s.fill(f, now)
	return true
}

// fill makes one launch attempt toward the targets: for each market, the
// pools in order (by priority when given), each as far as capacity allows.
// Caller holds s.mu.
func (s *Sandbox) fill(f *filler, now time.Time) ([]launched, []fleetError) {
	f.tried, f.attempted, f.due = true, now, time.Time{}
	s.purge(now) // as RunInstances does, so long runs reuse addresses
	var out []launched
	var errs []fleetError
	needOD, needSpot := f.needs(&s.opts, now)
	for _, spot := range []bool{false, true} {
		need := needOD
		if spot {
			need = needSpot
		}
		for i, p := range f.pools {
			if need <= 0 {
				break
			}
			want := int(math.Ceil(need / p.weight))
			n, short := s.fit(p.l, spot, want, now)
			if n > 0 {
				l := *p.l
				l.spot, l.tags = spot, mergeTags(l.tags, f.extra)
				if spot {
					l.maxPrice = or(p.override.maxPrice, f.spotMax)
				}
				_, ins := s.launchN(&l, n, "", now)
				for _, in := range ins {
					f.members = append(f.members, member{in, p})
					f.history = append(f.history, event{now, "instanceChange", "launched", p.describe(), in.id})
				}
				out = append(out, launched{i, spot, ins})
				need -= float64(n) * p.weight
			}
			if short != nil {
				errs = append(errs, fleetError{i, spot, short.Code, short.Message})
				f.history = append(f.history, event{now, "error", "launchSpecTemporarilyBlacklisted", p.describe() + ", " + short.Code + ": " + short.Message, ""})
			}
		}
	}
	f.errs = errs
	if od, sp := f.needs(&s.opts, now); od+sp > 0 {
		f.due = now.Add(max(s.opts.FleetDelay, DefaultRetryDelay))
	}
	return out, errs
}

// shrink terminates the newest active members while the capacity without
// them still meets the target. Caller holds s.mu.
func (s *Sandbox) shrink(f *filler, now time.Time) bool {
	od, sp := f.fulfilled(&s.opts, now)
	have, changed := od+sp, false
	for i := len(f.members) - 1; i >= 0 && have > f.total; i-- {
		m := f.members[i]
		w := m.pool.weight
		if !active(&s.opts, m.in, now) || have-w < f.total {
			continue
		}
		m.in.terminateAt = now
		have -= w
		changed = true
	}
	return changed
}

// terminate ends every member that is not already shutting down.
func (f *filler) terminate(o *Options, now time.Time) {
	for _, m := range f.members {
		if active(o, m.in, now) {
			m.in.terminateAt = now
		}
	}
}

// activeMembers lists the members pending or running, in launch order.
func (f *filler) activeMembers(s *Sandbox, now time.Time) []member {
	var out []member
	for _, m := range f.members {
		if active(&s.opts, m.in, now) && m.in.visible(&s.opts, now) {
			out = append(out, m)
		}
	}
	return out
}

// snapshot is the filler's active instance ids and its last errors, for
// the Go API.
func (f *filler) snapshot(s *Sandbox, now time.Time) (ids, errs []string) {
	ids = []string{}
	for _, m := range f.activeMembers(s, now) {
		ids = append(ids, m.in.id)
	}
	for _, e := range f.errs {
		errs = append(errs, e.code+": "+e.message)
	}
	return ids, errs
}

// describe is the pool as EC2's fleet history names a launch specification.
func (p *pool) describe() string {
	return p.l.instanceType + ", " + p.l.imageID + ", Linux/UNIX, " + p.l.sn.Zone + ", " + p.l.sn.ID
}

// order sorts pools by priority (those without one last), keeping the
// given order among equals.
func order(pools []*pool) {
	slices.SortStableFunc(pools, func(a, b *pool) int { return cmp.Compare(a.priority, b.priority) })
}

// parseNumber reads an optional positive number (a weight or a priority).
func parseNumber(v, name string, def float64, positive bool) (float64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || n < 0 || (positive && n == 0) {
		return 0, badParam("Invalid value '%s' for %s.", v, name)
	}
	return n, nil
}

// settle brings every live fleet and group up to the sandbox clock: the
// launches, replacements and trims that are due. It is called before each
// AWS call and Go snapshot, and takes the write lock only when a fleet or
// group is live.
func (s *Sandbox) settle(now time.Time) {
	if s.growing.Load() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, f := range s.world.fleets {
		if !f.live() {
			continue
		}
		if s.expire(f, now) {
			changed = true
		}
		if s.step(&f.filler, now) {
			changed = true
		}
	}
	for _, g := range s.world.asgs {
		if s.step(&g.filler, now) {
			changed = true
		}
	}
	s.recount()
	if changed {
		s.version.Add(1)
	}
}

// recount updates the number of live fillers settle looks for. Caller holds s.mu.
func (s *Sandbox) recount() {
	n := len(s.world.asgs)
	for _, f := range s.world.fleets {
		if f.live() {
			n++
		}
	}
	s.growing.Store(int64(n))
}
