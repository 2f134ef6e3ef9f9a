package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// dayLayout names an events partition: the UTC day of its events.
const dayLayout = "2006-01-02"

// skewDays is how far past today a listing looks, for events stamped by a
// host whose clock runs ahead.
const skewDays = 1

// AppendEvents adds events to the audit trail in BatchWriteItem calls of 25.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	// A random tail keeps events of the same time from different calls
	// apart; the index within the call orders those of one call.
	tail := make([]byte, 6)
	rand.Read(tail)
	writes := make([]types.WriteRequest, len(events))
	for i, e := range events {
		it := item{
			"day":    attrS(day(e.Time)),
			"sk":     attrS(sortKey(e.Time, fmt.Sprintf("%04d#%s", i, hex.EncodeToString(tail)))),
			"time":   attrN(nanos(e.Time)),
			"action": attrS(e.Action),
		}
		setS(it, "request_id", e.RequestID)
		setS(it, "instance_id", e.InstanceID)
		setS(it, "actor", e.Actor)
		setS(it, "detail", e.Detail)
		it[ttlAttribute] = attrN(expiry(e.Time, s.retention))
		writes[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	if err := s.batchWrite(ctx, s.events, writes); err != nil {
		return failure(err, "append %d events", len(events))
	}
	return nil
}

// Events lists the audit trail, newest first: a request's events are one
// Query on by-request; the others are Queries of one day each, from today
// back to q.Since or, without it, to the retention (older ones expire).
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	var out []store.Event
	collect := func(it item) bool {
		out = append(out, decodeEvent(it))
		return q.Limit <= 0 || len(out) < q.Limit
	}
	from := sortKey(q.Since, "")
	if q.RequestID != "" {
		err := s.query(ctx, &dynamodb.QueryInput{
			TableName:              &s.events,
			IndexName:              aws.String(idxRequest),
			KeyConditionExpression: aws.String("request_id = :r AND sk >= :from"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":r": attrS(q.RequestID), ":from": attrS(from),
			},
			ScanIndexForward: aws.Bool(false),
		}, collect)
		if err != nil {
			return nil, failure(err, "list events of request %s", q.RequestID)
		}
		return out, nil
	}
	since := q.Since
	if oldest := time.Now().Add(-s.retention); since.Before(oldest) {
		since = oldest
	}
	for d := time.Now().UTC().AddDate(0, 0, skewDays); !d.Before(since.UTC().Truncate(24 * time.Hour)); d = d.AddDate(0, 0, -1) {
		more := true
		err := s.query(ctx, s.dayQuery(d, ">=", from), func(it item) bool {
			more = collect(it)
			return more
		})
		if err != nil {
			return nil, failure(err, "list events of %s", day(d))
		}
		if !more {
			break
		}
	}
	return out, nil
}

// purgeEvents deletes the events before olderThan that DynamoDB's TTL has
// not deleted yet: those of the days from olderThan back to the retention
// and the two days TTL may lag by.
func (s *Store) purgeEvents(ctx context.Context, olderThan time.Time) error {
	var deletes []types.WriteRequest
	before := sortKey(olderThan, "")
	last := olderThan.UTC().Add(-s.retention - 48*time.Hour).Truncate(24 * time.Hour)
	for d := olderThan.UTC(); !d.Before(last); d = d.AddDate(0, 0, -1) {
		q := s.dayQuery(d, "<", before)
		q.ProjectionExpression = aws.String("#d, sk") // the key, to delete by
		err := s.query(ctx, q, func(it item) bool {
			deletes = append(deletes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: it}})
			return true
		})
		if err != nil {
			return err
		}
	}
	return s.batchWrite(ctx, s.events, deletes)
}

// dayQuery reads the events of d's day whose sort key is op key, newest
// first.
func (s *Store) dayQuery(d time.Time, op, key string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 &s.events,
		KeyConditionExpression:    aws.String("#d = :d AND sk " + op + " :k"),
		ExpressionAttributeNames:  map[string]string{"#d": "day"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": attrS(day(d)), ":k": attrS(key)},
		ScanIndexForward:          aws.Bool(false),
	}
}

func decodeEvent(it item) store.Event {
	return store.Event{
		Time:       fromNanos(num(it, "time")),
		RequestID:  str(it, "request_id"),
		InstanceID: str(it, "instance_id"),
		Action:     str(it, "action"),
		Actor:      str(it, "actor"),
		Detail:     str(it, "detail"),
	}
}

// day is the events partition of time t.
func day(t time.Time) string { return t.UTC().Format(dayLayout) }
