package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// A finished request expires (DynamoDB's TTL deletes it) only once none of
// its machines is alive: a host may run for months after its create request
// completed, and returning it needs that request (its fleet, its group).
// So a finished request is written without expires_at while it holds an
// alive machine, and gets one when a later write kills its last machine.

// holdsAlive reports whether the request id of kind has an alive machine,
// counting the machines about to be written as they will be.
func (s *Store) holdsAlive(ctx context.Context, kind store.Kind, id string, written []store.Machine) (bool, error) {
	q := store.MachineQuery{RequestIDs: []string{id}}
	if kind == store.KindReturn {
		q = store.MachineQuery{ReturnIDs: []string{id}}
	}
	stored, err := s.Machines(ctx, q)
	if err != nil {
		return false, err
	}
	alive := map[string]bool{}
	for _, m := range stored {
		alive[m.InstanceID] = m.Alive()
	}
	for _, m := range written {
		if m.RequestID == id || m.ReturnID == id {
			alive[m.InstanceID] = m.Alive()
		}
	}
	for _, a := range alive {
		if a {
			return true, nil
		}
	}
	return false, nil
}

// expireReleased gives expires_at to the finished requests, other than
// skip, that the dead machines just written leave without an alive one.
// It is housekeeping after a successful write, so it only logs failures.
func (s *Store) expireReleased(ctx context.Context, written []store.Machine, skip string) {
	var ids []string
	for _, m := range written {
		if !m.Alive() {
			for _, id := range []string{m.RequestID, m.ReturnID} {
				if id != "" && id != skip {
					ids = append(ids, id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	keys := make([]item, 0, len(ids))
	for _, id := range unique(ids) {
		keys = append(keys, item{"id": attrS(id)})
	}
	items, err := s.batchGet(ctx, s.requests, keys)
	if err != nil {
		s.log.WarnContext(ctx, "dynamodb: expiry of released requests", "err", err)
		return
	}
	for _, it := range items {
		id := str(it, "id")
		if _, has := it[ttlAttribute]; has || !store.State(str(it, "state")).Finished() {
			continue
		}
		alive, err := s.holdsAlive(ctx, store.Kind(str(it, "kind")), id, written)
		if err == nil && !alive {
			_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:           &s.requests,
				Key:                 item{"id": attrS(id)},
				UpdateExpression:    aws.String("SET expires_at = :e"),
				ConditionExpression: aws.String("version = :v AND attribute_not_exists(expires_at)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":e": attrN(expiry(time.Now(), s.retention)),
					":v": it["version"],
				},
			})
		}
		var cf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &cf) { // changed meanwhile: its own update decides
			s.log.WarnContext(ctx, "dynamodb: expiry of a released request", "request", id, "err", err)
		}
	}
}
