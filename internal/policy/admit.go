package policy

import (
	"strconv"
	"time"
)

// Kind is what a limit caps.
type Kind string

// The kinds of limits: a template's own maxNumber, and a policy's three.
const (
	KindTemplate  Kind = "maxNumber"
	KindMaxNumber Kind = "MaxNumber"
	KindMaxVCPUs  Kind = "MaxVCPUs"
	KindStep      Kind = "StepValue"
)

// Limit is one cap a request counts against, with what its counter holds.
type Limit struct {
	Policy string // "" for a template's maxNumber
	Kind   Kind
	Key    string // the store counter that keeps it
	Max    int
	// Weight is what one machine counts against it: its vCPUs for
	// MaxVCPUs, else 1.
	Weight int
	// Until is the end of the step window a StepValue counts in, when
	// the window's budget is free again.
	Until time.Time
	Use   int // what the counter holds, as last read
}

// Step reports whether l is a step window.
func (l Limit) Step() bool { return l.Kind == KindStep }

// Room is how many more machines fit under l.
func (l Limit) Room() int {
	if l.Max < 0 {
		return int(^uint(0) >> 1)
	}
	return max((l.Max-l.Use)/max(l.Weight, 1), 0)
}

// Key prefixes of the policies' counters.
const (
	keyMaxNumber = "policy:"
	keyMaxVCPUs  = "vcpus:"
	keyStep      = "step:"
)

// Limits are the limits the policies among ps that apply to c set on a
// request whose machines have vcpus each, at time now.
func Limits(ps []Policy, c Caller, vcpus int, now time.Time) []Limit {
	var out []Limit
	for _, p := range ps {
		if !p.Applies(c) {
			continue
		}
		out = append(out, p.limits(p.Scope(c), vcpus, now)...)
	}
	return out
}

// Shared are p's limits counted in its common scope, for callers with no
// share of their own.
func (p Policy) Shared(vcpus int, now time.Time) []Limit { return p.limits(p.Name, vcpus, now) }

// limits are p's limits counted under scope.
func (p Policy) limits(scope string, vcpus int, now time.Time) []Limit {
	var out []Limit
	if p.MaxNumber >= 0 {
		out = append(out, Limit{Policy: p.Name, Kind: KindMaxNumber, Key: keyMaxNumber + scope, Max: p.MaxNumber, Weight: 1})
	}
	if p.MaxVCPUs >= 0 {
		out = append(out, Limit{Policy: p.Name, Kind: KindMaxVCPUs, Key: keyMaxVCPUs + scope, Max: p.MaxVCPUs, Weight: max(vcpus, 1)})
	}
	if !p.Step.IsZero() {
		start, end := p.Step.Window(now)
		out = append(out, Limit{Policy: p.Name, Kind: KindStep, Key: keyStep + scope + "@" + strconv.FormatInt(start.Unix(), 10),
			Max: p.Step.Count, Weight: 1, Until: end})
	}
	return out
}

// HeldKeys are the keys of the counters of ps that count what is held
// (MaxNumber and MaxVCPUs), for every scope a caller named by callers can
// have: what a recount pass checks.
func HeldKeys(ps []Policy) []string {
	var out []string
	for _, p := range ps {
		scopes := []string{p.Name}
		for _, d := range Dimensions {
			for _, v := range p.Consumer.Per[d] {
				scopes = append(scopes, p.Name+"|"+string(d)+"="+v)
			}
		}
		for _, s := range scopes {
			if p.MaxNumber >= 0 {
				out = append(out, keyMaxNumber+s)
			}
			if p.MaxVCPUs >= 0 {
				out = append(out, keyMaxVCPUs+s)
			}
		}
	}
	return out
}

// Fit is how many of count machines fit under every limit, and the limit
// with the least room when that is fewer than count (nil otherwise).
func Fit(ls []Limit, count int) (int, *Limit) {
	fit := count
	var tightest *Limit
	for i := range ls {
		if r := ls[i].Room(); r < fit {
			fit, tightest = r, &ls[i]
		}
	}
	return fit, tightest
}
