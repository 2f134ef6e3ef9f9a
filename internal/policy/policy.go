// Package policy holds the admission policies of the LSF resource
// connector's policy_config.json, with ohfp's extensions: who they apply to
// (Consumer), the limits they set (MaxNumber, MaxVCPUs, StepValue), and the
// arithmetic of what a request may be granted. It decides nothing alone:
// the store keeps the counters, atomically, and the broker asks both.
package policy

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// All is the keyword of a consumer list that matches every value.
const All = "all"

// DefaultAccount is the account of a request that names none, as LSF's
// RC_ACCOUNT defaults to.
const DefaultAccount = "default"

// Policy is one entry of Policies[].
type Policy struct {
	Name     string
	Consumer Consumer
	// MaxNumber caps the instances held at any time by the requests the
	// policy applies to (alive machines plus machines still expected);
	// -1 when unset.
	MaxNumber int
	// MaxVCPUs (ohfp) caps the same, counting each machine's vCPUs; -1
	// when unset.
	MaxVCPUs int
	// Step (StepValue) caps the instances granted per window; zero when
	// unset.
	Step Step
}

// Step is a StepValue "count:minutes": at most Count instances granted in
// each window of Every, windows aligned on the Unix epoch.
type Step struct {
	Count int
	Every time.Duration
}

// IsZero reports whether the policy sets no step.
func (s Step) IsZero() bool { return s.Every == 0 }

// String is the StepValue as written in the file.
func (s Step) String() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d:%d", s.Count, int(s.Every/time.Minute))
}

// ParseStep reads a StepValue: two whole numbers separated by a colon,
// instances and minutes, as "5:10" (at most 5 instances every 10 minutes).
func ParseStep(s string) (Step, error) {
	count, minutes, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err1 := strconv.Atoi(strings.TrimSpace(count))
	m, err2 := strconv.Atoi(strings.TrimSpace(minutes))
	// Minutes past what a time.Duration holds would make a window that
	// ends before it starts.
	if !ok || err1 != nil || err2 != nil || n < 0 || m <= 0 || int64(m) > math.MaxInt64/int64(time.Minute) {
		return Step{}, fmt.Errorf("must be <instances>:<minutes> with whole numbers and minutes above 0, such as \"5:10\"")
	}
	return Step{Count: n, Every: time.Duration(m) * time.Minute}, nil
}

// Window is the step window that holds t: its start and its end.
func (s Step) Window(t time.Time) (start, end time.Time) {
	every := int64(s.Every / time.Second)
	sec := t.Unix()
	startSec := sec - ((sec%every)+every)%every
	start = time.Unix(startSec, 0).UTC()
	return start, start.Add(s.Every)
}

// Dimension is one attribute of Consumer.
type Dimension string

// The dimensions a consumer matches on: LSF's three, and ohfp's user.
const (
	DimAccount  Dimension = "rcAccount"
	DimTemplate Dimension = "templateName"
	DimProvider Dimension = "provider"
	DimUser     Dimension = "user"
)

// Dimensions lists every dimension, in the order keys name them.
var Dimensions = []Dimension{DimAccount, DimTemplate, DimProvider, DimUser}

// Consumer is who a policy applies to. A dimension left out, or whose
// list holds "all", matches every value; template and user lists may hold
// glob patterns (path.Match: *, ?, [...]).
type Consumer struct {
	Match map[Dimension][]string
	// Per lists, for perRcAccount, perTemplateName, perProvider and
	// perUser, the values that each get the policy's limits to themselves
	// rather than sharing them with the rest of its scope.
	Per map[Dimension][]string
}

// Caller is who asks for machines, and of what.
type Caller struct {
	Account  string // rc_account; DefaultAccount when the request names none
	Template string
	Provider string // the provider instance's name
	User     string // the principal: a Unix user, a token's name
}

func (c Caller) value(d Dimension) string {
	switch d {
	case DimAccount:
		if c.Account == "" {
			return DefaultAccount
		}
		return c.Account
	case DimTemplate:
		return c.Template
	case DimProvider:
		return c.Provider
	}
	return c.User
}

// matches reports whether value is in list, "all" and an absent list
// matching everything. Patterns are honoured where glob is set.
func matches(list []string, value string, glob bool) bool {
	if len(list) == 0 {
		return true
	}
	for _, v := range list {
		if v == All || v == value {
			return true
		}
		if glob {
			if ok, _ := path.Match(v, value); ok {
				return true
			}
		}
	}
	return false
}

// Glob reports whether the values of d may be patterns.
func (d Dimension) Glob() bool { return d == DimTemplate || d == DimUser }

// Applies reports whether p applies to c: every dimension matches.
func (p Policy) Applies(c Caller) bool {
	for _, d := range Dimensions {
		if !matches(p.Consumer.Match[d], c.value(d), d.Glob()) {
			return false
		}
	}
	return true
}

// Universal reports whether p applies to every caller of template on
// provider: whatever their account or user, and without a share of their
// own. Such policies lower the availableNumber HostFactory is told.
func (p Policy) Universal(template, provider string) bool {
	if !p.Applies(Caller{Template: template, Provider: provider}) {
		return false
	}
	for _, d := range []Dimension{DimAccount, DimUser} {
		if !matches(p.Consumer.Match[d], "", false) || len(p.Consumer.Per[d]) > 0 {
			return false
		}
	}
	return true
}

// Scope names the counter of p that c counts against: the policy's name,
// and each per-dimension value c has a share of its own for.
func (p Policy) Scope(c Caller) string {
	scope := p.Name
	for _, d := range Dimensions {
		if v := c.value(d); slices.Contains(p.Consumer.Per[d], v) {
			scope += "|" + string(d) + "=" + v
		}
	}
	return scope
}

// Concerns reports whether the policy could apply to a request of
// provider at all; policies of other providers in a shared LSF file are
// left alone.
func (p Policy) Concerns(provider string) bool {
	return matches(p.Consumer.Match[DimProvider], provider, false)
}

// Templates lists, of ids, those the policy's templateName covers.
func (p Policy) Templates(ids []string) []string {
	var out []string
	for _, id := range ids {
		if matches(p.Consumer.Match[DimTemplate], id, true) {
			out = append(out, id)
		}
	}
	return out
}
