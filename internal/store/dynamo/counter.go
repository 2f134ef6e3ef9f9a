package dynamo

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// A limit's counter is one item of the facts table, "counter#<key>", with
//
//	held     what the key holds (store.Store.Held)
//	version  raised by every change that touches it
//	changed  Unix nanoseconds of the last change, by the writer's clock
//
// Every write that changes what an item holds (a request's Holds, a
// machine's being alive) carries, in the same transaction, an update of the
// counters of the item's limit keys, even when the changes cancel out (a
// placement turns Outstanding into alive machines): the version and changed
// then say that the indexes may lag behind the counter. Those updates
// require the counter to exist, so no change can slip past a counter while
// it is being seeded from the tables (seed).

// counterKey is the facts-table key of limit key k's counter.
func counterKey(k string) string { return counterPrefix + k }

// settle is how long after a counter's last change the indexes are taken to
// show every item it counts: DynamoDB's GSIs trail writes by well under a
// second, this leaves a wide margin for that and for clock skew between
// hosts. Until then Recount does not lower a counter.
const settle = 2 * time.Minute

// holding is what one stored item holds of its limit keys: a request its
// Holds, a machine 1 while alive.
type holding struct {
	keys []string
	n    int
}

// keysOf are the limit keys an item counts against, in their stored form
// (weights.go). Items written before
// limits were recorded count against their template when they are a create
// request or its machine.
func keysOf(it item) []string {
	if v, ok := it[limitKeysAttr].(*types.AttributeValueMemberSS); ok {
		return v.Value
	}
	if t := str(it, "template_id"); t != "" && store.Kind(str(it, "kind")) != store.KindReturn {
		return []string{store.TemplateKey(t)}
	}
	return nil
}

func requestHolding(it item) holding {
	if it == nil {
		return holding{}
	}
	r := store.Request{Kind: store.Kind(str(it, "kind")), State: store.State(str(it, "state")), Outstanding: int(num(it, "outstanding"))}
	return holding{keys: keysOf(it), n: r.Holds()}
}

func machineHolding(it item) holding {
	if it == nil {
		return holding{}
	}
	h := holding{keys: keysOf(it)}
	if _, alive := it["alive"]; alive {
		h.n = 1
	}
	return h
}

// tally is the net change a write makes to each counter it touches; a
// touched key may net 0.
type tally map[string]int

// move counts an item going from holding from to holding to; its keys
// are stored keys, weights included (weights.go).
func (t tally) move(from, to holding) {
	if from.n == to.n && slices.Equal(from.keys, to.keys) {
		return
	}
	for _, s := range from.keys {
		k, w := splitKey(s)
		t[k] -= from.n * w
	}
	for _, s := range to.keys {
		k, w := splitKey(s)
		t[k] += to.n * w
	}
}

func (t tally) add(o tally) {
	for k, d := range o {
		t[k] += d
	}
}

// updates are the counter updates of t in key order; caps maps a key to the
// most it may hold after the update, for admissions.
func (s *Store) updates(t tally, caps map[string]int) []types.TransactWriteItem {
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	var out []types.TransactWriteItem
	for _, k := range slices.Sorted(maps.Keys(t)) {
		u := &types.Update{
			TableName:           &s.facts,
			Key:                 item{"key": attrS(counterKey(k))},
			UpdateExpression:    aws.String("ADD held :d, version :one SET changed = :now"),
			ConditionExpression: aws.String("attribute_exists(held)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":d": attrN(int64(t[k])), ":one": attrN(1), ":now": &types.AttributeValueMemberN{Value: now},
			},
		}
		if most, ok := caps[k]; ok {
			u.ConditionExpression = aws.String("attribute_exists(held) AND held <= :room")
			u.ExpressionAttributeValues[":room"] = attrN(int64(most - t[k]))
		}
		out = append(out, types.TransactWriteItem{Update: u})
	}
	return out
}

// counter is a counter item as read.
type counter struct {
	held, version, changed int64
	exists                 bool
}

// readCounters reads the counters of keys, strongly consistent.
func (s *Store) readCounters(ctx context.Context, keys []string) (map[string]counter, error) {
	keys = unique(keys)
	ks := make([]item, len(keys))
	for i, k := range keys {
		ks[i] = item{"key": attrS(counterKey(k))}
	}
	items, err := s.batchGet(ctx, s.facts, ks)
	if err != nil {
		return nil, failure(err, "read counters")
	}
	out := make(map[string]counter, len(keys))
	for _, it := range items {
		if _, ok := it["held"]; !ok {
			continue
		}
		k := str(it, "key")[len(counterPrefix):]
		out[k] = counter{held: num(it, "held"), version: num(it, "version"), changed: num(it, "changed"), exists: true}
	}
	return out, nil
}

// Held reads the counters of keys, seeding those that do not exist yet;
// see store.Store.
func (s *Store) Held(ctx context.Context, keys []string) (map[string]int, error) {
	cs, err := s.readSeeded(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = int(cs[k].held)
	}
	return out, nil
}

// readSeeded reads the counters of keys, seeding those missing first.
func (s *Store) readSeeded(ctx context.Context, keys []string) (map[string]counter, error) {
	cs, err := s.readCounters(ctx, keys)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range keys {
		if !cs[k].exists {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return cs, nil
	}
	if err := s.seed(ctx, missing); err != nil {
		return nil, err
	}
	return s.readCounters(ctx, keys)
}

// seed creates the counters of keys from what the tables hold. It is
// exact: while a counter is missing, every write that would move it fails
// its condition and waits for it. Counters of a new store start at 0 this
// way; those of a store written before counters existed start from its
// items.
func (s *Store) seed(ctx context.Context, keys []string) error {
	counted, err := s.count(ctx, keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.facts,
			Item: item{
				"key":     attrS(counterKey(k)),
				"held":    attrN(int64(counted[k])),
				"version": attrN(1),
				"changed": attrN(time.Now().UnixNano()),
			},
			ConditionExpression: aws.String("attribute_not_exists(held)"),
		})
		if err != nil && !isConditionFailed(err) { // seeded by another host meanwhile
			return failure(err, "seed counter %s", k)
		}
		s.log.DebugContext(ctx, "dynamodb: counter seeded", "key", k, "held", counted[k])
	}
	return nil
}

// count adds up what keys hold from the items themselves: the alive
// machines, then the unfinished create requests, each found through an
// index and read again strongly consistent. Machines are read first so that
// a placement in between is missed on both sides rather than counted twice:
// an index that lags only hides items, so count never exceeds the truth.
func (s *Store) count(ctx context.Context, keys []string) (map[string]int, error) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	out := map[string]int{}
	addUp := func(items []item, of func(item) holding) {
		for _, it := range items {
			h := of(it)
			for _, s := range h.keys {
				if k, w := splitKey(s); want[k] {
					out[k] += h.n * w
				}
			}
		}
	}
	ids, err := s.aliveMachines(ctx, "")
	if err != nil {
		return nil, failure(err, "count alive machines")
	}
	machines, err := s.machinesByID(ctx, ids)
	if err != nil {
		return nil, failure(err, "count alive machines")
	}
	addUp(machines, machineHolding)

	var reqIDs []string
	for _, st := range store.UnfinishedStates {
		err := s.query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.requests,
			IndexName:                 aws.String(idxState),
			KeyConditionExpression:    aws.String("#s = :s"),
			FilterExpression:          aws.String("kind = :k"),
			ProjectionExpression:      aws.String("id"),
			ExpressionAttributeNames:  map[string]string{"#s": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": attrS(string(st)), ":k": attrS(string(store.KindCreate))},
		}, func(it item) bool { reqIDs = append(reqIDs, str(it, "id")); return true })
		if err != nil {
			return nil, failure(err, "count unfinished requests")
		}
	}
	requests, err := s.batchGet(ctx, s.requests, idKeys("id", reqIDs))
	if err != nil {
		return nil, failure(err, "count unfinished requests")
	}
	addUp(requests, requestHolding)
	return out, nil
}

// Recount compares the counters of keys with what their items hold. A key
// whose counter changed while it was counted is left for the next pass. A
// counter below the count is raised (the count never exceeds the truth); one
// above it is lowered only once it has not changed for settle, when the
// indexes show every item it counts. Corrections are conditional on the
// counter's version, so a change that lands meanwhile wins.
func (s *Store) Recount(ctx context.Context, keys []string) ([]store.Drift, error) {
	keys = unique(keys)
	before, err := s.readSeeded(ctx, keys)
	if err != nil {
		return nil, err
	}
	counted, err := s.count(ctx, keys)
	if err != nil {
		return nil, err
	}
	after, err := s.readCounters(ctx, keys)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var drifts []store.Drift
	for _, k := range keys {
		b, a := before[k], after[k]
		if b.version != a.version || int(a.held) == counted[k] {
			continue
		}
		d := store.Drift{Key: k, Counter: int(a.held), Counted: counted[k]}
		settled := now.Sub(time.Unix(0, a.changed)) >= settle
		if counted[k] > int(a.held) || settled {
			_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:           &s.facts,
				Key:                 item{"key": attrS(counterKey(k))},
				UpdateExpression:    aws.String("SET held = :n, changed = :now ADD version :one"),
				ConditionExpression: aws.String("version = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":n": attrN(int64(counted[k])), ":now": attrN(now.UnixNano()), ":one": attrN(1), ":v": attrN(a.version),
				},
			})
			switch {
			case err == nil:
				d.Corrected = true
			case !isConditionFailed(err):
				return drifts, failure(err, "correct counter %s", k)
			}
		}
		drifts = append(drifts, d)
	}
	return drifts, nil
}

// counterFailures tells, for a cancelled transaction whose counter updates
// start at index first, which keys' counters do not exist yet and which
// refused the update for capacity.
func (s *Store) counterFailures(ctx context.Context, reasons []types.CancellationReason, first int, keys []string) (unseeded, full []string, err error) {
	var failed []string
	for i, k := range keys {
		if conditionFailed(reasons, first+i) {
			failed = append(failed, k)
		}
	}
	if len(failed) == 0 {
		return nil, nil, nil
	}
	cs, err := s.readCounters(ctx, failed)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range failed {
		if cs[k].exists {
			full = append(full, k)
		} else {
			unseeded = append(unseeded, k)
		}
	}
	return unseeded, full, nil
}
