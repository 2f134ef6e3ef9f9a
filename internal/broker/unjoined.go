package broker

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/store"
)

// lsfListedFact is when LSF last named its hosts to ohfp: each
// getReturnRequests lists every host LSF holds from the provider, as IBM's
// LSF plugin reads that input (docs/lsf.md).
const lsfListedFact = "lsf:hosts-listed"

// listed records, under LSF, that LSF named its hosts now, and when it
// first named each of the stored machines among them. A host LSF never
// names never joined the cluster: see unjoined.
func (b *Broker) listed(ctx context.Context, named map[string]store.Machine) {
	if !b.cfg.LSF() {
		return
	}
	now := b.now()
	var first []string
	for id, m := range named {
		if m.ListedAt.IsZero() {
			first = append(first, id)
		}
	}
	slices.Sort(first)
	if err := b.store.MarkListed(ctx, first, now); err != nil {
		b.log.Warn("recording the hosts LSF named", "err", err)
		return // the time below would stand for marks not made
	}
	raw, _ := json.Marshal(now)
	if err := b.store.PutFact(ctx, lsfListedFact, raw); err != nil {
		b.log.Warn("recording when LSF named its hosts", "err", err)
	}
}

// lastListed is when LSF last named its hosts; zero when it never has.
func (b *Broker) lastListed(ctx context.Context) time.Time {
	var at time.Time
	if raw, ok, err := b.store.Fact(ctx, lsfListedFact); err == nil && ok {
		_ = json.Unmarshal(raw, &at)
	}
	return at
}

// unjoinedReason is why reconcile terminates a host that never joined.
const unjoinedReason = "never joined LSF: LSF did not name it among its hosts INSTANCE_CREATION_TIMEOUT after its launch"

// unjoined picks, of the stored machines, the hosts that never joined LSF,
// as IBM's LSF plugin finds them: reported up to LSF (succeed), not being
// returned, alive in the cloud as this installation's (live) and tagged
// with the machine's request, and never named by LSF although LSF last
// named its hosts more than timeout after their launch. They are billed
// and never used.
func unjoined(known []store.Machine, live map[string]cloud.Instance, lastListed time.Time, timeout time.Duration) []store.Machine {
	var out []store.Machine
	for _, m := range known {
		inst, alive := live[m.InstanceID]
		launched := m.LaunchTime
		if launched.IsZero() {
			launched = inst.LaunchTime
		}
		// The instance's own request tag must name the stored request:
		// the installation id alone proves no request's ownership.
		if alive && inst.Tags[cloud.TagRequestID] == m.RequestID && m.ReturnID == "" && m.Result == store.ResultSucceed && m.ListedAt.IsZero() &&
			!launched.IsZero() && lastListed.Sub(launched) > timeout {
			out = append(out, m)
		}
	}
	return out
}
