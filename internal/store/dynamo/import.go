package dynamo

import (
	"context"
	"fmt"

	"github.com/ohfp/ohfp/internal/store"
)

// Import writes requests and machines exactly as given (CreatedAt,
// UpdatedAt and Version included), replacing what has the same ids, with no
// capacity or version check: it is for copying a store (internal/store/
// transfer), never for HostFactory's traffic. As ever, a request tied to an
// alive machine among those imported does not expire.
func (s *Store) Import(ctx context.Context, requests []store.Request, machines []store.Machine) error {
	holding := map[string]bool{}
	for _, m := range machines {
		if m.Alive() {
			holding[m.RequestID], holding[m.ReturnID] = true, true
		}
	}
	items := make([]item, 0, len(requests))
	for i := range requests {
		it, err := requestItem(&requests[i], s.retention)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if holding[requests[i].ID] {
			delete(it, ttlAttribute)
		}
		items = append(items, it)
	}
	if err := s.batchWrite(ctx, s.requests, puts(items)); err != nil {
		return failure(err, "import %d requests", len(items))
	}
	if err := s.saveMachines(ctx, machines); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}
