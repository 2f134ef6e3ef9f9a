package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// unfinished are the states whose create requests hold their Outstanding.
var unfinished = store.UnfinishedStates

// CreateRequest stores r if its id is new and every capped limit keeps
// within its Max across every host; see store.Store and doc.go.
func (s *Store) CreateRequest(ctx context.Context, r *store.Request, limits []store.Limit) error {
	if r.ID == "" {
		return errors.New("create request: empty id")
	}
	next := *r
	if next.CreatedAt.IsZero() {
		next.CreatedAt = time.Now()
	}
	next.CreatedAt = next.CreatedAt.UTC()
	next.UpdatedAt = next.CreatedAt
	next.Version = 1
	next.LimitKeys = store.LimitKeys(limits)
	next.LimitWeights = store.LimitWeights(limits)
	it, err := requestItem(&next, s.retention)
	if err != nil {
		return err
	}
	put := types.TransactWriteItem{Put: &types.Put{
		TableName:           &s.requests,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	}}
	if err := s.admit(ctx, put, &next, limits); err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

// admit writes a new request together with the counters it moves, each
// capped limit conditional on held <= Max - what the request adds: one
// transaction, whose only read is of the counters that refuse it.
func (s *Store) admit(ctx context.Context, put types.TransactWriteItem, r *store.Request, limits []store.Limit) error {
	moves := tally{}
	moves.move(holding{}, holding{keys: encodeKeys(r.LimitKeys, r.LimitWeights), n: r.Holds()})
	caps := map[string]int{}
	for _, l := range limits {
		if l.Max >= 0 {
			caps[l.Key] = l.Max
		}
	}
	counted := slices.Sorted(maps.Keys(moves))
	windows := s.windowUpdates(limits, r.Holds())
	for attempt := range writeAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		}
		writes := append([]types.TransactWriteItem{put}, s.updates(moves, caps)...)
		reasons, err := s.transact(ctx, append(writes, windows.writes...))
		switch {
		case err != nil:
			return failure(err, "admit request")
		case reasons == nil:
			return nil
		case conditionFailed(reasons, 0):
			return store.ErrExists
		}
		unseeded, full, err := s.counterFailures(ctx, reasons, 1, counted)
		if err != nil {
			return err
		}
		var held map[string]counter
		if len(full) > 0 {
			if held, err = s.readCounters(ctx, full); err != nil {
				return err
			}
		}
		// A counter read after the cancellation may have been seeded or
		// freed by another host meanwhile: only one that still has no room
		// refuses; the others are tried again.
		moved := len(full)
		full = slices.DeleteFunc(full, func(k string) bool { return int(held[k].held)+moves[k] <= caps[k] })
		moved -= len(full)
		if k, ok := windows.failed(reasons, len(writes)); ok && len(full) == 0 && moved == 0 {
			if got, err := s.GetRequests(ctx, []string{r.ID}); err != nil || len(got) > 0 {
				return cmp.Or(err, store.ErrExists)
			}
			launched, err := s.Launched(ctx, []string{k.Key})
			if err != nil {
				return err
			}
			return &store.CapacityError{Key: k.Key, Held: launched[k.Key], Max: k.Max, Need: k.Need(r.Holds())}
		}
		if len(full) > 0 {
			// An id already stored is the better answer: a retried request
			// must not be refused for the slots it holds itself.
			if got, err := s.GetRequests(ctx, []string{r.ID}); err != nil || len(got) > 0 {
				return cmp.Or(err, store.ErrExists)
			}
			k := full[0]
			return &store.CapacityError{Key: k, Held: int(held[k].held), Max: caps[k], Need: moves[k]}
		}
		if len(unseeded) == 0 {
			if moved > 0 {
				continue
			}
			return fmt.Errorf("admit request: transaction cancelled: %s", reasonCodes(reasons))
		}
		if err := s.seed(ctx, unseeded); err != nil {
			return err
		}
	}
	return fmt.Errorf("admit request: counters still being seeded after %d attempts", writeAttempts)
}

// UpdateRequest writes r and upserts machines if r.Version is still the
// stored version; see store.Store. It reads the stored request and
// machines first, to move the counters by what the write changes; with
// more than one transaction's worth of machines, the request goes with the
// first chunk and the others follow, each chunk with its own counter
// moves, so a crash between them leaves the counters true to what was
// written.
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
	stored, err := s.batchGet(ctx, s.requests, idKeys("id", []string{r.ID}))
	switch {
	case err != nil:
		return failure(err, "read request")
	case len(stored) == 0:
		return store.ErrNotFound
	case num(stored[0], "version") != version:
		return store.ErrConflict
	}
	prev := stored[0]
	r.LimitKeys, r.LimitWeights = decodeKeys(keysOf(prev))
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
	expr, names, values := requestUpdate(it)
	values[":v"] = attrN(version)
	first := &lead{
		write: types.TransactWriteItem{Update: &types.Update{
			TableName:                 &s.requests,
			Key:                       item{"id": attrS(r.ID)},
			UpdateExpression:          aws.String(expr),
			ConditionExpression:       aws.String("version = :v"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		moves: tally{},
	}
	first.moves.move(requestHolding(prev), requestHolding(it))
	err = s.writeMachines(ctx, first, machines, map[string][]string{r.ID: keysOf(prev)})
	if errors.Is(err, errStale) {
		return s.missingOrStale(ctx, r.ID)
	}
	return err
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

// ListRequests lists requests, newest first: through by-template for a
// template, else through by-state, one Query per state asked (every state
// when none is), each reading no further than the limit needs, merged.
// After bounds each Query's sort key, which is the page token itself.
func (s *Store) ListRequests(ctx context.Context, q store.RequestQuery) ([]store.Request, error) {
	if q.After != "" {
		if _, _, err := store.ParsePageToken(q.After); err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
	}
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
	if q.TemplateID != "" {
		err = s.query(ctx, s.newestFirst(idxTemplate, "template_id", q.TemplateID, q.After), collect(q.Limit))
	} else {
		states := q.States
		if len(states) == 0 {
			states = store.States
		}
		for _, st := range unique(states) {
			err = s.query(ctx, s.newestFirst(idxState, "state", string(st), q.After), collect(q.Limit))
			if err != nil || bad != nil {
				break
			}
		}
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

// newestFirst queries a requests index for one partition, newest first,
// after the page token after if set.
func (s *Store) newestFirst(index, attr, value, after string) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 &s.requests,
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": attrS(value)},
		ScanIndexForward:          aws.Bool(false),
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#k = :k AND created_key < :after")
		in.ExpressionAttributeValues[":after"] = attrS(after)
	}
	return in
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
