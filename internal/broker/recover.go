package broker

import (
	"context"
	"errors"

	"github.com/ohfp/ohfp/internal/store"
)

// errPlacerDied is the message of a create request whose invocation died
// before answering HostFactory.
var errPlacerDied = errors.New("the invocation placing this request died before HostFactory got its id; its instances are terminated")

// recoverPending finishes what dead invocations left half done. A request is
// stored pending before the cloud call and leaves that state before its id
// is printed, so a create request still pending once its invocation's
// budget is over was never seen by HostFactory: whatever it launched is
// terminated, and nothing is launched again. A return request still pending
// is carried out: HostFactory asked for those hosts to go.
func (b *Broker) recoverPending(ctx context.Context) {
	reqs, err := b.store.ListRequests(ctx, store.RequestQuery{States: []store.State{store.StatePending}})
	if err != nil {
		b.log.Warn("looking for requests left pending", "err", err)
		return
	}
	cutoff := b.now().Add(-b.cfg.OperationBudget())
	for i := range reqs {
		r := &reqs[i]
		if r.CreatedAt.After(cutoff) {
			continue // its invocation may still be at work
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
