package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// unfinished are the states whose create requests hold their Outstanding.
var unfinished = store.UnfinishedStates

// CreateRequest stores r if its id is new and, for a create request with
// limit >= 0, its template keeps within limit across every host; see
// store.Store and doc.go.
func (s *Store) CreateRequest(ctx context.Context, r *store.Request, limit int) error {
	if r.ID == "" {
		return errors.New("create request: empty id")
	}
	next := *r
	next.CreatedAt = time.Now().UTC()
	next.UpdatedAt = next.CreatedAt
	next.Version = 1
	it, err := requestItem(&next, s.retention)
	if err != nil {
		return err
	}
	put := &types.Put{
		TableName:           &s.requests,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	}
	if r.Kind == store.KindCreate && limit >= 0 {
		err = s.createGuarded(ctx, put, &next, limit)
	} else {
		err = s.createPlain(ctx, put)
	}
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

func (s *Store) createPlain(ctx context.Context, put *types.Put) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           put.TableName,
		Item:                put.Item,
		ConditionExpression: put.ConditionExpression,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return store.ErrExists
	}
	if err != nil {
		return failure(err, "put request")
	}
	return nil
}

// createGuarded admits r against limit under its template's guard item.
func (s *Store) createGuarded(ctx context.Context, put *types.Put, r *store.Request, limit int) error {
	for attempt := range guardAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		g, err := s.readGuard(ctx, r.TemplateID)
		if err != nil {
			return err
		}
		u, err := s.usage(ctx, r.TemplateID)
		if err != nil {
			return err
		}
		held := u.held[r.TemplateID] + g.unseen(u)
		if held+r.Outstanding > limit {
			// An id already stored is the better answer: a retried request
			// must not be refused for the slots it holds itself.
			got, err := s.GetRequests(ctx, []string{r.ID})
			if err != nil {
				return err
			}
			if len(got) > 0 {
				return store.ErrExists
			}
			return fmt.Errorf("%w: template %s holds %d of %d, the request needs %d",
				store.ErrCapacity, r.TemplateID, held, limit, r.Outstanding)
		}
		reasons, err := s.transact(ctx, []types.TransactWriteItem{
			{Put: put},
			{Put: g.next(s.facts, r)},
		})
		if err != nil {
			return failure(err, "admit request")
		}
		switch {
		case conditionFailed(reasons, 0):
			return store.ErrExists
		case conditionFailed(reasons, 1):
			s.log.DebugContext(ctx, "capacity guard moved, retrying", "template", r.TemplateID, "attempt", attempt)
			continue
		case reasons != nil:
			return fmt.Errorf("admit request: transaction cancelled: %s", reasonCodes(reasons))
		}
		return nil
	}
	return fmt.Errorf("capacity guard of template %s: still contended after %d attempts", r.TemplateID, guardAttempts)
}

// UpdateRequest writes r and upserts machines if r.Version is still the
// stored version; see store.Store and doc.go for more than 99 machines.
func (s *Store) UpdateRequest(ctx context.Context, r *store.Request, machines ...store.Machine) error {
	next := *r
	next.Version++
	next.UpdatedAt = time.Now().UTC()
	err := s.update(ctx, r.Version, &next, machines)
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	*r = next
	s.expireReleased(ctx, machines, r.ID)
	return nil
}

func (s *Store) update(ctx context.Context, version int64, r *store.Request, machines []store.Machine) error {
	it, err := requestItem(r, s.retention)
	if err != nil {
		return err
	}
	if r.State.Finished() {
		alive, err := s.holdsAlive(ctx, r.Kind, r.ID, machines)
		if err != nil {
			return err
		}
		if alive {
			delete(it, ttlAttribute)
		}
	}
	machineItems, err := machineItemsOf(machines, s.retention)
	if err != nil {
		return err
	}
	expr, names, values := requestUpdate(it)
	values[":v"] = attrN(version)
	update := &types.Update{
		TableName:                 &s.requests,
		Key:                       item{"id": attrS(r.ID)},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if len(machineItems) < maxTransact {
		items := []types.TransactWriteItem{{Update: update}}
		for _, m := range machineItems {
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.machines, Item: m}})
		}
		reasons, err := s.transact(ctx, items)
		switch {
		case err != nil:
			return failure(err, "write request and machines")
		case conditionFailed(reasons, 0):
			return s.missingOrStale(ctx, r.ID)
		case reasons != nil:
			return fmt.Errorf("transaction cancelled: %s", reasonCodes(reasons))
		}
		return nil
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 update.TableName,
		Key:                       update.Key,
		UpdateExpression:          update.UpdateExpression,
		ConditionExpression:       update.ConditionExpression,
		ExpressionAttributeNames:  update.ExpressionAttributeNames,
		ExpressionAttributeValues: update.ExpressionAttributeValues,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return s.missingOrStale(ctx, r.ID)
	}
	if err != nil {
		return failure(err, "update request")
	}
	if err := s.batchWrite(ctx, s.machines, puts(machineItems)); err != nil {
		return failure(err, "put %d machines after their request", len(machineItems))
	}
	return nil
}

// missingOrStale tells why a write conditional on a version failed.
func (s *Store) missingOrStale(ctx context.Context, id string) error {
	got, err := s.GetRequests(ctx, []string{id})
	if err != nil {
		return err
	}
	if len(got) == 0 {
		return store.ErrNotFound
	}
	return store.ErrConflict
}

// GetRequests returns the stored requests among ids, in the order of ids,
// each once.
func (s *Store) GetRequests(ctx context.Context, ids []string) ([]store.Request, error) {
	ids = unique(ids)
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = item{"id": attrS(id)}
	}
	items, err := s.batchGet(ctx, s.requests, keys)
	if err != nil {
		return nil, failure(err, "get requests")
	}
	byID := make(map[string]store.Request, len(items))
	for _, it := range items {
		r, err := decodeRequest(it)
		if err != nil {
			return nil, err
		}
		byID[r.ID] = r
	}
	out := make([]store.Request, 0, len(byID))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// ListRequests lists requests, newest first: by state or by template through
// an index, reading no further than the limit needs; otherwise by scanning.
func (s *Store) ListRequests(ctx context.Context, q store.RequestQuery) ([]store.Request, error) {
	var out []store.Request
	var bad error
	collect := func(limit int) func(item) bool {
		taken := 0
		return func(it item) bool {
			r, err := decodeRequest(it)
			if err != nil {
				bad = err
				return false
			}
			if matchRequest(q, r) {
				out = append(out, r)
				taken++
			}
			return limit <= 0 || taken < limit
		}
	}
	var err error
	switch {
	case len(q.States) > 0:
		for _, st := range unique(q.States) {
			err = s.query(ctx, s.newestFirst(idxState, "state", string(st)), collect(q.Limit))
			if err != nil || bad != nil {
				break
			}
		}
	case q.TemplateID != "":
		err = s.query(ctx, s.newestFirst(idxTemplate, "template_id", q.TemplateID), collect(q.Limit))
	default:
		each := collect(0)
		err = s.scan(ctx, &dynamodb.ScanInput{TableName: &s.requests}, func(it item) { each(it) })
	}
	if err != nil {
		return nil, failure(err, "list requests")
	}
	if bad != nil {
		return nil, bad
	}
	slices.SortFunc(out, func(a, b store.Request) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// newestFirst queries a requests index for one partition, newest first.
func (s *Store) newestFirst(index, attr, value string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 &s.requests,
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": attrS(value)},
		ScanIndexForward:          aws.Bool(false),
	}
}

func matchRequest(q store.RequestQuery, r store.Request) bool {
	return (q.Kind == "" || r.Kind == q.Kind) &&
		(len(q.States) == 0 || slices.Contains(q.States, r.State)) &&
		(q.TemplateID == "" || r.TemplateID == q.TemplateID)
}

// unique returns xs without repeats, first occurrences in order.
func unique[T comparable](xs []T) []T {
	seen := make(map[T]bool, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
