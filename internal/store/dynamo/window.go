package dynamo

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// A window (store.Limit.Until) is one item of the facts table,
// "window#<key>", with
//
//	launched    what the requests admitted in the window were admitted for
//	until       Unix nanoseconds of the window's end
//	expires_at  when DynamoDB's TTL may delete it (a day after until)
//
// An admission adds to it in the same transaction that stores the request,
// conditional on the sum staying within the limit. A window that does not
// exist yet counts 0: unlike a counter, nothing could have moved it before.

// windowKeep is how long after its end a window is kept before TTL may
// delete it, so that listings still show the last one.
const windowKeep = 24 * time.Hour

// windowWrites are the window updates of an admission, in limit order.
type windowWrites struct {
	limits []store.Limit
	writes []types.TransactWriteItem
}

// windowUpdates are the updates of the windows among limits for a request
// holding holds.
func (s *Store) windowUpdates(limits []store.Limit, holds int) windowWrites {
	var w windowWrites
	if holds == 0 {
		return w
	}
	for _, l := range limits {
		if !l.Window() {
			continue
		}
		need := l.Need(holds)
		u := &types.Update{
			TableName:                &s.facts,
			Key:                      item{"key": attrS(windowPrefix + l.Key)},
			UpdateExpression:         aws.String("ADD launched :n SET #until = :until, " + ttlAttribute + " = :exp"),
			ExpressionAttributeNames: map[string]string{"#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":n":     attrN(int64(need)),
				":until": attrN(l.Until.UnixNano()),
				":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(l.Until.Add(windowKeep).Unix(), 10)},
			},
		}
		if l.Max >= 0 {
			u.ConditionExpression = aws.String("attribute_not_exists(launched) OR launched <= :room")
			u.ExpressionAttributeValues[":room"] = attrN(int64(l.Max - need))
		}
		w.limits = append(w.limits, l)
		w.writes = append(w.writes, types.TransactWriteItem{Update: u})
	}
	return w
}

// failed is the first window whose condition refused the transaction,
// whose window updates start at index first.
func (w windowWrites) failed(reasons []types.CancellationReason, first int) (store.Limit, bool) {
	for i, l := range w.limits {
		if conditionFailed(reasons, first+i) {
			return l, true
		}
	}
	return store.Limit{}, false
}

// Launched reads the windows of keys, strongly consistent; see
// store.Store.
func (s *Store) Launched(ctx context.Context, keys []string) (map[string]int, error) {
	keys = unique(keys)
	out := make(map[string]int, len(keys))
	ks := make([]item, len(keys))
	for i, k := range keys {
		out[k] = 0
		ks[i] = item{"key": attrS(windowPrefix + k)}
	}
	items, err := s.batchGet(ctx, s.facts, ks)
	if err != nil {
		return nil, failure(err, "read windows")
	}
	for _, it := range items {
		out[str(it, "key")[len(windowPrefix):]] = int(num(it, "launched"))
	}
	return out, nil
}
