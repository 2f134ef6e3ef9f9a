package cli

import (
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/policy"
)

// PolicyRow is one policy with the templates of this provider it matches.
func PolicyRow(v broker.PolicyView) Record {
	p := v.Policy
	return Record{
		{"name", p.Name},
		{"applies_here", v.Here},
		{"consumer", consumer(p.Consumer)},
		{"max_number", orNone(p.MaxNumber)},
		{"max_vcpus", orNone(p.MaxVCPUs)},
		{"step_value", p.Step.String()},
		{"templates", strings.Join(v.Templates, ",")},
	}
}

// PolicyDetail is a policy with what its counters hold now.
func PolicyDetail(v broker.PolicyView) Record {
	r := PolicyRow(v)
	counters := make([]Record, len(v.Counters))
	for i, c := range v.Counters {
		counters[i] = LimitRow(c)
	}
	return append(r, Field{"counters", counters})
}

// LimitRow is one limit and what its counter holds.
func LimitRow(l policy.Limit) Record {
	ends := ""
	if l.Step() {
		ends = l.Until.UTC().Format(time.RFC3339)
	}
	return Record{
		{"policy", l.Policy},
		{"limit", string(l.Kind)},
		{"max", orNone(l.Max)},
		{"use", l.Use},
		{"room", orNone(l.Room())},
		{"window_ends", ends},
	}
}

// AdmissionDetail is what `policies check` says a request would get.
func AdmissionDetail(a broker.Admission) Record {
	limits := make([]Record, len(a.Limits))
	for i, l := range a.Limits {
		limits[i] = LimitRow(l)
	}
	verdict := "granted"
	switch {
	case a.Granted == 0:
		verdict = "refused (QUOTA_EXCEEDED)"
	case a.Granted < a.Count:
		verdict = "trimmed"
	}
	r := Record{
		{"template_id", a.Caller.Template},
		{"rc_account", a.Caller.Account},
		{"user", a.Caller.User},
		{"requested", a.Count},
		{"granted", a.Granted},
		{"verdict", verdict},
	}
	if a.Tightest != nil {
		name := a.Tightest.Policy
		if name == "" {
			name = "template maxNumber"
		}
		r = append(r, Field{"limited_by", name + " " + string(a.Tightest.Kind)})
	}
	return append(r, Field{"limits", limits})
}

// consumer spells a policy's consumer as dimension=values, "all" left out.
func consumer(c policy.Consumer) string {
	var parts []string
	for _, d := range policy.Dimensions {
		if vs := c.Match[d]; len(vs) > 0 && !(len(vs) == 1 && vs[0] == policy.All) {
			parts = append(parts, string(d)+"="+strings.Join(vs, ","))
		}
		if vs := c.Per[d]; len(vs) > 0 {
			parts = append(parts, "per "+string(d)+"="+strings.Join(vs, ","))
		}
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// orNone shows a limit of -1 (none) as "-".
func orNone(n int) any {
	if n < 0 || n == int(^uint(0)>>1) {
		return "-"
	}
	return n
}
