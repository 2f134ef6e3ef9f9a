package broker

import (
	"context"
	"errors"
	"time"

	"github.com/ohfp/ohfp/internal/store"
)

// errPlacerDied is the message of a create request whose invocation died
// before answering HostFactory.
var errPlacerDied = errors.New("the invocation placing this request died before HostFactory got its id; its instances are terminated")

// unclaimedAfter is how long a request may stay in state s before it is
// taken for left behind. A pending request outlives its invocation only if
// that died. A placed one that HostFactory has not polled for
// INSTANCE_CREATION_TIMEOUT was never answered to it: HostFactory polls
// every request it knows within seconds, even after a failover.
func (b *Broker) unclaimedAfter(s store.State) time.Duration {
	if s == store.StatePlaced {
		return max(b.cfg.AWS.CreationTimeout, b.cfg.OperationBudget())
	}
	return b.cfg.OperationBudget()
}

// recoverPending finishes what dead invocations left half done. A create
// request is stored pending before the cloud call and placed after it, and
// its id is printed last; HostFactory then polls it, which makes it running.
// So a create request still pending once its invocation's budget is over,
// or still placed long after, was never seen by HostFactory: whatever it
// launched is terminated, and nothing is launched again. A return request
// still pending is carried out: HostFactory asked for those hosts to go.
func (b *Broker) recoverPending(ctx context.Context) {
	reqs, err := b.store.ListRequests(ctx, store.RequestQuery{States: []store.State{store.StatePending, store.StatePlaced}})
	if err != nil {
		b.log.Warn("looking for requests left pending", "err", err)
		return
	}
	now := b.now()
	for i := range reqs {
		r := &reqs[i]
		if now.Sub(r.CreatedAt) < b.unclaimedAfter(r.State) {
			continue // its invocation may still be at work, or HostFactory not have polled yet
		}
		b.log.Warn("recovering a request left pending", "request_id", r.ID, "kind", string(r.Kind), "created", r.CreatedAt)
		switch r.Kind {
		case store.KindCreate:
			b.fail(ctx, r, errPlacerDied)
		case store.KindReturn:
			if err := b.retire(ctx, r); err != nil {
				b.log.Warn("carrying out a return left pending", "request_id", r.ID, "err", err)
			}
		}
	}
}
