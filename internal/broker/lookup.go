package broker

import (
	"context"

	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Request returns one stored request as last saved, without asking the
// cloud, or REQUEST_NOT_FOUND.
func (b *Broker) Request(ctx context.Context, id string) (store.Request, error) {
	rs, err := b.store.GetRequests(ctx, []string{id})
	if err != nil {
		return store.Request{}, fault.Wrap(fault.Internal, err, "reading request %s", id)
	}
	if len(rs) == 0 {
		return store.Request{}, fault.New(fault.RequestNotFound, "Request %s not found.", id)
	}
	return rs[0], nil
}
