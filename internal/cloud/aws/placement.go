package aws

import (
	"context"

	"github.com/ohfp/ohfp/internal/cloud"
)

// Fulfilment reports on ongoing placements. Reservations of RunInstances
// are done the moment they answer.
func (p *Provider) Fulfilment(ctx context.Context, refs []string) (map[string]cloud.Fulfilment, error) {
	out := make(map[string]cloud.Fulfilment, len(refs))
	for _, ref := range refs {
		out[ref] = cloud.Fulfilment{Done: true}
	}
	return out, nil
}

// Release shrinks a placement by instances about to be terminated. A
// RunInstances reservation replaces nothing, so there is nothing to shrink.
func (p *Provider) Release(ctx context.Context, ref string, ids []string) error { return nil }

// Retire deletes what a placement keeps in the cloud. A RunInstances
// reservation keeps nothing.
func (p *Provider) Retire(ctx context.Context, ref string) error { return nil }
