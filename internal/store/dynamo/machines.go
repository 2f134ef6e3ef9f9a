package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// SaveMachines upserts machines (keyed by InstanceID) in batches; each
// machine is written whole and on its own.
func (s *Store) SaveMachines(ctx context.Context, machines []store.Machine) error {
	if err := s.saveMachines(ctx, machines); err != nil {
		return err
	}
	s.expireReleased(ctx, machines, "")
	return nil
}

func (s *Store) saveMachines(ctx context.Context, machines []store.Machine) error {
	if err := s.writeMachines(ctx, nil, machines, map[string][]string{}); err != nil {
		return fmt.Errorf("save machines: %w", err)
	}
	return nil
}

// machineItemsOf encodes machines, the last of repeated ids winning, since
// one DynamoDB call may not write an item twice.
func machineItemsOf(machines []store.Machine, retention time.Duration) ([]item, error) {
	at := make(map[string]int, len(machines))
	var out []item
	for i := range machines {
		m := &machines[i]
		if m.InstanceID == "" {
			return nil, fmt.Errorf("machine %q of request %s has no instance id", m.Name, m.RequestID)
		}
		it := machineItem(m, retention)
		if j, ok := at[m.InstanceID]; ok {
			out[j] = it
			continue
		}
		at[m.InstanceID] = len(out)
		out = append(out, it)
	}
	return out, nil
}

func puts(items []item) []types.WriteRequest {
	out := make([]types.WriteRequest, len(items))
	for i, it := range items {
		out[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	return out
}

// Machines returns the machines matching q, ordered by request then launch.
// The most selective field picks the read (instance ids by key, then host
// names, requests, returns, a template's alive machines, a template, every
// alive machine); the others filter what it reads.
func (s *Store) Machines(ctx context.Context, q store.MachineQuery) ([]store.Machine, error) {
	var items []item
	var err error
	switch {
	case len(q.InstanceIDs) > 0:
		items, err = s.machinesByID(ctx, q.InstanceIDs)
	case len(q.Names) > 0:
		items, err = s.machinesBy(ctx, idxName, "name", q.Names)
	case len(q.RequestIDs) > 0:
		items, err = s.machinesBy(ctx, idxRequest, "request_id", q.RequestIDs)
	case len(q.ReturnIDs) > 0:
		items, err = s.machinesBy(ctx, idxReturn, "return_id", q.ReturnIDs)
	case q.AliveOnly:
		var keys []string
		keys, err = s.aliveMachines(ctx, q.TemplateID)
		if err == nil {
			items, err = s.machinesByID(ctx, keys)
		}
	case q.TemplateID != "":
		items, err = s.machinesBy(ctx, idxTemplate, "template_id", []string{q.TemplateID})
	default:
		return nil, nil
	}
	if err != nil {
		return nil, failure(err, "machines")
	}
	seen := make(map[string]bool, len(items))
	var out []store.Machine
	for _, it := range items {
		m := decodeMachine(it)
		if !seen[m.InstanceID] && matchMachine(q, m) {
			seen[m.InstanceID] = true
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b store.Machine) int {
		return cmp.Or(cmp.Compare(a.RequestID, b.RequestID), a.LaunchTime.Compare(b.LaunchTime),
			cmp.Compare(a.InstanceID, b.InstanceID))
	})
	return out, nil
}

func (s *Store) machinesByID(ctx context.Context, ids []string) ([]item, error) {
	ids = unique(ids)
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = item{"instance_id": attrS(id)}
	}
	return s.batchGet(ctx, s.machines, keys)
}

// queriesInFlight bounds the index queries one read runs at once: status
// polls cover many requests, and their queries are independent.
const queriesInFlight = 8

// machinesBy queries a machines index once per value, a few at a time.
func (s *Store) machinesBy(ctx context.Context, index, attr string, values []string) ([]item, error) {
	var (
		mu   sync.Mutex
		out  []item
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, queriesInFlight)
	)
	for _, v := range unique(values) {
		if v == "" {
			continue // never indexed
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var got []item
			err := s.query(ctx, &dynamodb.QueryInput{
				TableName:                 &s.machines,
				IndexName:                 aws.String(index),
				KeyConditionExpression:    aws.String("#k = :k"),
				ExpressionAttributeNames:  map[string]string{"#k": attr},
				ExpressionAttributeValues: map[string]types.AttributeValue{":k": attrS(v)},
			}, func(it item) bool { got = append(got, it); return true })
			mu.Lock()
			defer mu.Unlock()
			out = append(out, got...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// aliveMachines lists the instance ids of alive machines of templateID, or
// of every template when it is empty, from the sparse alive index.
func (s *Store) aliveMachines(ctx context.Context, templateID string) ([]string, error) {
	var ids []string
	err := s.eachAlive(ctx, templateID, func(_, instanceID string) { ids = append(ids, instanceID) })
	return ids, err
}

// eachAlive calls f with the template and instance id of every alive machine
// of templateID, or of every template when it is empty.
func (s *Store) eachAlive(ctx context.Context, templateID string, f func(templateID, instanceID string)) error {
	in := &dynamodb.QueryInput{
		TableName:                 &s.machines,
		IndexName:                 aws.String(idxAlive),
		KeyConditionExpression:    aws.String("alive = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": attrS(aliveFlag)},
		ProjectionExpression:      aws.String("instance_id, alive_key"),
	}
	if templateID != "" {
		in.KeyConditionExpression = aws.String("alive = :a AND begins_with(alive_key, :t)")
		in.ExpressionAttributeValues[":t"] = attrS(aliveKey(templateID, ""))
	}
	return s.query(ctx, in, func(it item) bool {
		t := aliveKeyTemplate(str(it, "alive_key"))
		// begins_with also matches templates named "<templateID>#...".
		if templateID == "" || t == templateID {
			f(t, str(it, "instance_id"))
		}
		return true
	})
}

func matchMachine(q store.MachineQuery, m store.Machine) bool {
	in := func(values []string, v string) bool { return len(values) == 0 || slices.Contains(values, v) }
	return in(q.RequestIDs, m.RequestID) && in(q.ReturnIDs, m.ReturnID) &&
		in(q.InstanceIDs, m.InstanceID) && in(q.Names, m.Name) &&
		(q.TemplateID == "" || m.TemplateID == q.TemplateID) &&
		(!q.AliveOnly || m.Alive())
}

// MarkListed sets listed on each stored machine that has none: one
// conditional update a machine, made once in its life.
func (s *Store) MarkListed(ctx context.Context, instanceIDs []string, at time.Time) error {
	for _, id := range instanceIDs {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.machines,
			Key:                       item{"instance_id": attrS(id)},
			UpdateExpression:          aws.String("SET listed = :t"),
			ConditionExpression:       aws.String("attribute_exists(instance_id) AND attribute_not_exists(listed)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": attrN(nanos(at))},
		})
		var cf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &cf) { // unknown or already listed: nothing to do
			return failure(err, "mark machine %s listed", id)
		}
	}
	return nil
}
