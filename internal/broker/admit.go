package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/policy"
	"github.com/ohfp/ohfp/internal/store"
)

// Admission against the policies (docs/policies.md). Every policy that
// applies to a request sets limits, each a counter of the store moved in
// the same atomic step as the request: what fits under all of them is
// granted, as LSF lowers its demand to what its policies allow; a request
// of which nothing fits is refused. Each counter is read, the grant
// computed, and the store refuses a grant that a concurrent request made
// too big, which is then read and computed again.

// admitAttempts bounds the rereads of one admission: each one follows
// another request's admission, which takes room, so the loop ends long
// before it under any load the tests reach.
const admitAttempts = 64

// Admission is what a request would be granted now, for `policies check`.
type Admission struct {
	Caller  policy.Caller
	Count   int            // machines asked for
	Granted int            // machines that fit now
	Limits  []policy.Limit // every limit that applies, with its use
	// Tightest is the limit with the least room when fewer than Count fit.
	Tightest *policy.Limit
}

// caller is who asks for in, and of what.
func (b *Broker) caller(in MachineRequest) policy.Caller {
	account := in.RCAccount
	if account == "" {
		account = policy.DefaultAccount
	}
	user := in.User
	if user == "" {
		user = b.principal.Name
	}
	return policy.Caller{Account: account, Template: in.TemplateID, Provider: b.cfg.ProviderName, User: user}
}

// limitsOf are the limits that apply to a request of t by c, with what
// their counters hold now: the template's maxNumber first, then the
// policies' in file order. Without read, a template's maxNumber alone is
// not read: the store checks it as it admits, which is all an admission
// without policies needs.
func (b *Broker) limitsOf(ctx context.Context, t config.Template, c policy.Caller, read bool) ([]policy.Limit, error) {
	ls := []policy.Limit{{Kind: policy.KindTemplate, Key: store.TemplateKey(t.ID), Max: t.MaxNumber, Weight: 1}}
	vcpus := 1
	if slices.ContainsFunc(b.cfg.Policies, func(p policy.Policy) bool { return p.MaxVCPUs >= 0 && p.Applies(c) }) {
		var err error
		if vcpus, err = b.vcpus(ctx, t); err != nil {
			return nil, err
		}
	}
	ls = append(ls, policy.Limits(b.cfg.Policies, c, vcpus, b.now())...)
	if len(ls) == 1 && !read {
		return ls, nil
	}
	if err := b.readUse(ctx, ls); err != nil {
		return nil, err
	}
	return ls, nil
}

// readUse fills in what the counters of ls hold.
func (b *Broker) readUse(ctx context.Context, ls []policy.Limit) error {
	var held, windows []string
	for _, l := range ls {
		if l.Step() {
			windows = append(windows, l.Key)
		} else {
			held = append(held, l.Key)
		}
	}
	h, err := b.store.Held(ctx, held)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "reading the limit counters")
	}
	w, err := b.store.Launched(ctx, windows)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "reading the step windows")
	}
	for i := range ls {
		if ls[i].Step() {
			ls[i].Use = w[ls[i].Key]
		} else {
			ls[i].Use = h[ls[i].Key]
		}
	}
	return nil
}

// storeLimits are ls as the store keeps them.
func storeLimits(ls []policy.Limit) []store.Limit {
	out := make([]store.Limit, len(ls))
	for i, l := range ls {
		out[i] = store.Limit{Key: l.Key, Max: l.Max, Weight: l.Weight, Until: l.Until}
	}
	return out
}

// Check says what a request of count machines of template by c would be
// granted now, launching nothing.
func (b *Broker) Check(ctx context.Context, in MachineRequest) (Admission, error) {
	t, err := b.template(in.TemplateID)
	if err != nil {
		return Admission{}, err
	}
	c := b.caller(in)
	ls, err := b.limitsOf(ctx, t, c, true)
	if err != nil {
		return Admission{}, err
	}
	granted, tightest := b.fit(ls, in.Count)
	return Admission{Caller: c, Count: in.Count, Granted: granted, Limits: ls, Tightest: tightest}, nil
}

// fit is how many of count fit under ls. A template's maxNumber admits a
// request whole or not at all, as before policies existed; the policies
// trim it.
func (b *Broker) fit(ls []policy.Limit, count int) (int, *policy.Limit) {
	granted, tightest := policy.Fit(ls[1:], count)
	if ls[0].Room() < granted {
		return 0, &ls[0]
	}
	return granted, tightest
}

// admit stores r for as many of its machines as the limits allow, at
// least one, and returns a note for the answer when that is fewer than
// asked; it refuses with QUOTA_EXCEEDED when none fits.
func (b *Broker) admit(ctx context.Context, r *store.Request, t config.Template, c policy.Caller) (string, error) {
	asked := r.MachineCount
	for range admitAttempts {
		ls, err := b.limitsOf(ctx, t, c, false)
		if err != nil {
			return "", err
		}
		granted, tightest := b.fit(ls, asked)
		if granted == 0 {
			return "", b.refuse(c, asked, tightest)
		}
		r.MachineCount, r.Outstanding = granted, granted
		err = b.store.CreateRequest(ctx, r, storeLimits(ls))
		var ce *store.CapacityError
		switch {
		case err == nil:
			if granted == asked {
				return "", nil
			}
			note := fmt.Sprintf("%d of %d machines granted: %s", granted, asked, describe(tightest, b.now()))
			b.note(r.ID, "", ActionRequestTrimmed, note)
			return note, nil
		case errors.As(err, &ce) && ce.Key == ls[0].Key:
			ls[0].Use = ce.Held
			return "", b.refuse(c, asked, &ls[0])
		case errors.Is(err, store.ErrCapacity):
			continue // another request took room meanwhile: read again
		}
		return "", fault.Wrap(fault.Internal, err, "storing request")
	}
	return "", fault.New(fault.QuotaExceeded, "template '%s': the policies' counters kept moving under %d attempts to admit %d machines; ask again", t.ID, admitAttempts, asked)
}

// refuse records and answers a request of which nothing fits under l.
func (b *Broker) refuse(c policy.Caller, asked int, l *policy.Limit) error {
	why := describe(l, b.now())
	var err *fault.Error
	if l.Kind == policy.KindTemplate {
		err = fault.New(fault.QuotaExceeded, "template '%s' cannot take %d more machines: maxNumber %d is reached", c.Template, asked, l.Max).
			With("maxNumber", l.Max)
	} else {
		err = fault.New(fault.QuotaExceeded, "template '%s' cannot take %d more machines: %s", c.Template, asked, why).
			With("policy", l.Policy)
	}
	err.With("limit", string(l.Kind)).With("max", l.Max).With("use", l.Use).With("requested", asked)
	if l.Step() {
		err.With("frees_at", l.Until.UTC().Format(time.RFC3339))
	}
	b.note("", "", ActionRequestRefused, fmt.Sprintf("%d machines of %s for %s: %s", asked, c.Template, who(c), why))
	return err
}

// who names the account and user of c, for the audit trail.
func who(c policy.Caller) string {
	s := "account " + c.Account
	if c.User != "" {
		s += ", user " + c.User
	}
	return s
}

// describe says what l allows and holds, for people.
func describe(l *policy.Limit, now time.Time) string {
	if l == nil {
		return ""
	}
	switch l.Kind {
	case policy.KindTemplate:
		return fmt.Sprintf("maxNumber %d of template holds %d", l.Max, l.Use)
	case policy.KindStep:
		return fmt.Sprintf("policy '%s' StepValue allows %d per window and %d were granted in this one; it frees at %s (in %s)",
			l.Policy, l.Max, l.Use, l.Until.UTC().Format(time.RFC3339), l.Until.Sub(now).Round(time.Second))
	case policy.KindMaxVCPUs:
		return fmt.Sprintf("policy '%s' MaxVCPUs %d holds %d vCPUs, %d per machine", l.Policy, l.Max, l.Use, l.Weight)
	}
	return fmt.Sprintf("policy '%s' MaxNumber %d holds %d", l.Policy, l.Max, l.Use)
}

// vcpus is what one machine of t counts against a MaxVCPUs: the most
// vCPUs of its instance types, so that no mix of types overshoots.
func (b *Broker) vcpus(ctx context.Context, t config.Template) (int, error) {
	if len(typesOf(t)) == 0 {
		return 0, fault.New(fault.Configuration, "template '%s' names no instance type (a launch template's is not read), so its machines cannot be counted against MaxVCPUs; give it vmType or vmTypes", t.ID)
	}
	facts, err := b.typeFacts(ctx, []config.Template{t}, nil)
	if err != nil {
		return 0, err
	}
	most := 0
	for _, name := range typesOf(t) {
		most = max(most, facts[name].VCPUs)
	}
	if most == 0 {
		return 0, fault.New(fault.Configuration, "template '%s': the vCPUs of %s are unknown, so its machines cannot be counted against MaxVCPUs",
			t.ID, strings.Join(typesOf(t), ", "))
	}
	return most, nil
}

// headroom is how many more machines of t every caller may have under the
// policies that apply to all of them (policy.Universal), vcpus each; -1
// when no such policy limits it.
func (b *Broker) headroom(ctx context.Context, t config.Template, vcpus int) (int, error) {
	var universal []policy.Policy
	for _, p := range b.cfg.Policies {
		if p.Universal(t.ID, b.cfg.ProviderName) {
			universal = append(universal, p)
		}
	}
	ls := policy.Limits(universal, policy.Caller{Template: t.ID, Provider: b.cfg.ProviderName}, vcpus, b.now())
	if len(ls) == 0 {
		return -1, nil
	}
	if err := b.readUse(ctx, ls); err != nil {
		return 0, err
	}
	room, _ := policy.Fit(ls, int(^uint(0)>>1))
	return room, nil
}

// PolicyView is a policy as listings show it.
type PolicyView struct {
	policy.Policy
	Here      bool     // it can apply to this provider instance
	Templates []string // the templates of this instance it matches
	// Counters are its limits for a caller with no share of its own
	// (Consumer per* lists), with what they hold; filled by Policy only.
	Counters []policy.Limit
}

// Policies lists the configured policies.
func (b *Broker) Policies() []PolicyView {
	out := make([]PolicyView, len(b.cfg.Policies))
	for i, p := range b.cfg.Policies {
		here := p.Concerns(b.cfg.ProviderName)
		var ts []string
		if here {
			ts = p.Templates(b.cfg.TemplateIDs())
		}
		out[i] = PolicyView{Policy: p, Here: here, Templates: ts}
	}
	return out
}

// Policy shows one policy with what its counters hold now.
func (b *Broker) Policy(ctx context.Context, name string) (PolicyView, error) {
	for _, v := range b.Policies() {
		if v.Name != name {
			continue
		}
		// Room is shown in vCPUs for MaxVCPUs: machines weigh what
		// their template's type does.
		v.Counters = v.Shared(1, b.now())
		if err := b.readUse(ctx, v.Counters); err != nil {
			return v, err
		}
		return v, nil
	}
	names := make([]string, len(b.cfg.Policies))
	for i, p := range b.cfg.Policies {
		names[i] = p.Name
	}
	return PolicyView{}, fault.New(fault.InvalidRequest, "no policy named '%s'; policies: %s", name, strings.Join(names, ", ")).
		With("policies", names)
}
