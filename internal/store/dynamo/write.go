package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// limitKeysAttr holds the limit keys of a request and of its machines (a
// string set; absent when there are none).
const limitKeysAttr = "limit_keys"

// machineChunk is how many machines one transaction writes, leaving room
// in DynamoDB's 100 items for the request and the counters they move.
const machineChunk = 80

// errStale says the request a write led with was missing or changed.
var errStale = errors.New("request missing or changed")

// lead is the request write that goes first in the first transaction of a
// write, with the counter moves it makes.
type lead struct {
	write types.TransactWriteItem
	moves tally
}

// writeMachines upserts machines, each conditional on its stored state as
// read just before, with the counter updates that their changes make, in
// transactions of at most machineChunk machines. lead, when set, goes first
// in the first one; its condition failing gives errStale. keys maps request
// ids to their limit keys where the caller knows them; a machine's stored
// keys win, and others are read from its request.
func (s *Store) writeMachines(ctx context.Context, first *lead, machines []store.Machine, keys map[string][]string) error {
	items, err := machineItemsOf(machines, s.retention)
	if err != nil {
		return err
	}
	if len(items) == 0 && first != nil {
		return s.commit(ctx, first, nil, keys)
	}
	for chunk := range slices.Chunk(items, machineChunk) {
		if err := s.commit(ctx, first, chunk, keys); err != nil {
			return err
		}
		first = nil
	}
	return nil
}

// commit writes one transaction of writeMachines, retrying while a
// machine's stored state moved under it or a counter is being seeded.
func (s *Store) commit(ctx context.Context, first *lead, chunk []item, keys map[string][]string) error {
	for attempt := range writeAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		prev, err := s.batchGet(ctx, s.machines, idKeys("instance_id", instanceIDsOf(chunk)))
		if err != nil {
			return failure(err, "read machines before writing them")
		}
		if err := s.learnKeys(ctx, chunk, prev, keys); err != nil {
			return err
		}
		moves := tally{}
		var writes []types.TransactWriteItem
		if first != nil {
			writes = append(writes, first.write)
			moves.add(first.moves)
		}
		byID := make(map[string]item, len(prev))
		for _, p := range prev {
			byID[str(p, "instance_id")] = p
		}
		for _, it := range chunk {
			p := byID[str(it, "instance_id")]
			it = maps.Clone(it)
			setKeys(it, machineKeys(it, p, keys))
			moves.move(machineHolding(p), machineHolding(it))
			writes = append(writes, types.TransactWriteItem{Put: &types.Put{
				TableName: &s.machines, Item: it, ConditionExpression: aws.String(stateCondition(p)),
			}})
		}
		counted := slices.Sorted(maps.Keys(moves))
		all := append(writes, s.updates(moves, nil)...)
		if len(all) > maxTransact {
			return fmt.Errorf("write of %d machines moves %d limit counters: more than one transaction holds", len(chunk), len(counted))
		}
		reasons, err := s.transact(ctx, all)
		switch {
		case err != nil:
			return failure(err, "write machines")
		case reasons == nil:
			return nil
		case first != nil && conditionFailed(reasons, 0):
			return errStale
		}
		unseeded, _, err := s.counterFailures(ctx, reasons, len(writes), counted)
		if err != nil {
			return err
		}
		if len(unseeded) > 0 {
			if err := s.seed(ctx, unseeded); err != nil {
				return err
			}
		} else if !anyConditionFailed(reasons) {
			return fmt.Errorf("write machines: transaction cancelled: %s", reasonCodes(reasons))
		}
		s.log.DebugContext(ctx, "dynamodb: machines moved under a write, retrying", "attempt", attempt)
	}
	return fmt.Errorf("write machines: still contended after %d attempts", writeAttempts)
}

// stateCondition holds a machine write to the stored state it was counted
// from: absent, alive or dead.
func stateCondition(prev item) string {
	switch {
	case prev == nil:
		return "attribute_not_exists(instance_id)"
	case prev["alive"] != nil:
		return "attribute_exists(alive)"
	}
	return "attribute_exists(instance_id) AND attribute_not_exists(alive)"
}

// machineKeys are the limit keys a machine item counts against: those
// stored with it, else its request's.
func machineKeys(it, prev item, keys map[string][]string) []string {
	if prev != nil {
		return keysOf(prev)
	}
	if k, ok := keys[str(it, "request_id")]; ok {
		return k
	}
	return keysOf(it)
}

// learnKeys adds to keys those of the requests of new machines in chunk
// that it lacks.
func (s *Store) learnKeys(ctx context.Context, chunk, prev []item, keys map[string][]string) error {
	stored := map[string]bool{}
	for _, p := range prev {
		stored[str(p, "instance_id")] = true
	}
	var ids []string
	for _, it := range chunk {
		id := str(it, "request_id")
		if _, known := keys[id]; !known && id != "" && !stored[str(it, "instance_id")] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	reqs, err := s.batchGet(ctx, s.requests, idKeys("id", ids))
	if err != nil {
		return failure(err, "read the requests of new machines")
	}
	for _, r := range reqs {
		keys[str(r, "id")] = keysOf(r)
	}
	return nil
}

// setKeys records keys on an item, or none.
func setKeys(it item, keys []string) {
	delete(it, limitKeysAttr)
	if len(keys) > 0 {
		it[limitKeysAttr] = &types.AttributeValueMemberSS{Value: keys}
	}
}

// addToCounters applies moves without a condition, creating counters that
// are missing: for Import, which writes outside transactions.
func (s *Store) addToCounters(ctx context.Context, moves tally) error {
	for _, u := range s.updates(moves, nil) {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 u.Update.TableName,
			Key:                       u.Update.Key,
			UpdateExpression:          u.Update.UpdateExpression,
			ExpressionAttributeValues: u.Update.ExpressionAttributeValues,
		})
		if err != nil {
			return failure(err, "move counter")
		}
	}
	return nil
}

func instanceIDsOf(items []item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = str(it, "instance_id")
	}
	return ids
}

// idKeys are the keys of items whose key attribute attr has the values ids.
func idKeys(attr string, ids []string) []item {
	ids = unique(ids)
	out := make([]item, len(ids))
	for i, id := range ids {
		out[i] = item{attr: attrS(id)}
	}
	return out
}

func anyConditionFailed(reasons []types.CancellationReason) bool {
	for i := range reasons {
		if conditionFailed(reasons, i) {
			return true
		}
	}
	return false
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
