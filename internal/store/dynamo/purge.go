package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// Purge deletes the finished requests last updated before olderThan, with
// their machines, keeping every request tied through a machine to an alive
// machine or to a request that stays, and the events before olderThan too;
// see store.Store. It is a cold path: one Query per machine index and
// candidate, one per day of events, deletes in batches.
func (s *Store) Purge(ctx context.Context, olderThan time.Time) (int, error) {
	candidates := map[string][]store.Machine{}
	for _, st := range []store.State{store.StateComplete, store.StateCompleteWithError, store.StateFailed} {
		err := s.query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.requests,
			IndexName:                 aws.String(idxState),
			KeyConditionExpression:    aws.String("#s = :s"),
			FilterExpression:          aws.String("updated < :t"),
			ProjectionExpression:      aws.String("id"),
			ExpressionAttributeNames:  map[string]string{"#s": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": attrS(string(st)), ":t": attrN(nanos(olderThan))},
		}, func(it item) bool {
			candidates[str(it, "id")] = nil
			return true
		})
		if err != nil {
			return 0, failure(err, "purge")
		}
	}
	for id := range candidates {
		ms, err := s.Machines(ctx, store.MachineQuery{RequestIDs: []string{id}})
		if err != nil {
			return 0, fmt.Errorf("purge: %w", err)
		}
		returned, err := s.Machines(ctx, store.MachineQuery{ReturnIDs: []string{id}})
		if err != nil {
			return 0, fmt.Errorf("purge: %w", err)
		}
		candidates[id] = append(ms, returned...)
	}
	// A kept machine keeps both its requests, which may keep more machines:
	// shrink the candidates until nothing changes.
	stays := func(id string) bool {
		_, candidate := candidates[id]
		return id != "" && !candidate
	}
	for changed := true; changed; {
		changed = false
		for id, ms := range candidates {
			for _, m := range ms {
				if m.Alive() || stays(m.RequestID) || stays(m.ReturnID) {
					delete(candidates, id)
					changed = true
					break
				}
			}
		}
	}
	var requests, machines []types.WriteRequest
	deleted := map[string]bool{}
	for id, ms := range candidates {
		requests = append(requests, deleteKey("id", id))
		for _, m := range ms {
			if !deleted[m.InstanceID] {
				deleted[m.InstanceID] = true
				machines = append(machines, deleteKey("instance_id", m.InstanceID))
			}
		}
	}
	// Machines first, so an interrupted purge leaves requests that the next
	// one finds again, never machines that nothing leads to.
	if err := s.batchWrite(ctx, s.machines, machines); err != nil {
		return 0, failure(err, "purge machines")
	}
	if err := s.batchWrite(ctx, s.requests, requests); err != nil {
		return 0, failure(err, "purge requests")
	}
	if err := s.purgeEvents(ctx, olderThan); err != nil {
		return 0, failure(err, "purge events")
	}
	return len(requests), nil
}

func deleteKey(attr, value string) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item{attr: attrS(value)}}}
}
