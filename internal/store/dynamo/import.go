package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"

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
	reqItems := make([]item, 0, len(requests))
	keys := map[string][]string{}
	for i := range requests {
		it, err := requestItem(&requests[i], s.retention)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if holding[requests[i].ID] {
			delete(it, ttlAttribute)
		}
		reqItems = append(reqItems, it)
		keys[requests[i].ID] = keysOf(it)
	}
	machineItems, err := machineItemsOf(machines, s.retention)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	// The counters move by what the import changes, as any write moves
	// them, but after the items: nothing else writes meanwhile.
	moves := tally{}
	prevReqs, err := s.batchGet(ctx, s.requests, idKeys("id", slices.Collect(maps.Keys(keys))))
	if err != nil {
		return failure(err, "import: read requests")
	}
	byID := map[string]item{}
	for _, p := range prevReqs {
		byID[str(p, "id")] = p
	}
	for _, it := range reqItems {
		moves.move(requestHolding(byID[str(it, "id")]), requestHolding(it))
	}
	prevMachines, err := s.batchGet(ctx, s.machines, idKeys("instance_id", instanceIDsOf(machineItems)))
	if err != nil {
		return failure(err, "import: read machines")
	}
	if err := s.learnKeys(ctx, machineItems, prevMachines, keys); err != nil {
		return err
	}
	byInstance := map[string]item{}
	for _, p := range prevMachines {
		byInstance[str(p, "instance_id")] = p
	}
	for _, it := range machineItems {
		p := byInstance[str(it, "instance_id")]
		setKeys(it, machineKeys(it, p, keys))
		moves.move(machineHolding(p), machineHolding(it))
	}
	if err := s.batchWrite(ctx, s.requests, puts(reqItems)); err != nil {
		return failure(err, "import %d requests", len(reqItems))
	}
	if err := s.batchWrite(ctx, s.machines, puts(machineItems)); err != nil {
		return failure(err, "import %d machines", len(machineItems))
	}
	return s.addToCounters(ctx, moves)
}
