package broker

import (
	"context"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// Config is the configuration the broker serves.
func (b *Broker) Config() *config.Config { return b.cfg }

// Requests lists stored requests, newest first, for people and dashboards.
func (b *Broker) Requests(ctx context.Context, q store.RequestQuery) ([]store.Request, error) {
	if q.After != "" {
		if _, _, err := store.ParsePageToken(q.After); err != nil {
			return nil, fault.New(fault.InvalidRequest, "%v", err)
		}
	}
	rs, err := b.store.ListRequests(ctx, q)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "listing requests")
	}
	return rs, nil
}

// NextPage is the page token that continues a listing of at most limit
// requests that returned rs, or "" when rs was its last page.
func NextPage(rs []store.Request, limit int) string {
	if limit <= 0 || len(rs) < limit {
		return ""
	}
	return store.PageToken(rs[len(rs)-1])
}

// Machines lists stored machines as last seen, without asking the cloud.
func (b *Broker) Machines(ctx context.Context, q store.MachineQuery) ([]store.Machine, error) {
	ms, err := b.store.Machines(ctx, q)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "listing machines")
	}
	return ms, nil
}

// Usage is what each configured template holds against its maxNumber:
// alive machines plus machines still expected, from its counter.
func (b *Broker) Usage(ctx context.Context) (map[string]int, error) {
	keys := make([]string, len(b.cfg.Templates))
	for i, t := range b.cfg.Templates {
		keys[i] = store.TemplateKey(t.ID)
	}
	held, err := b.store.Held(ctx, keys)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading template usage")
	}
	out := make(map[string]int, len(keys))
	for _, t := range b.cfg.Templates {
		out[t.ID] = held[store.TemplateKey(t.ID)]
	}
	return out, nil
}
