package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/store"
)

// recentWindow is how long a guard remembers the requests it admitted:
// long enough for the requests' index to show them (well under a second
// on AWS), with a wide margin for clock skew between hosts.
const recentWindow = 30 * time.Second

// guard is a template's capacity guard item: a version that every
// admission bumps, and the requests admitted in the last recentWindow.
type guard struct {
	key     string
	version int64
	recent  map[string]types.AttributeValue // request id -> {o: outstanding, t: nanos}
}

// readGuard reads templateID's guard, strongly consistent; a template never
// guarded reads as version 0.
func (s *Store) readGuard(ctx context.Context, templateID string) (guard, error) {
	g := guard{key: guardPrefix + templateID, recent: map[string]types.AttributeValue{}}
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.facts,
		Key:            item{"key": attrS(g.key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return g, failure(err, "read capacity guard of %s", templateID)
	}
	g.version = num(res.Item, "version")
	if m, ok := res.Item["recent"].(*types.AttributeValueMemberM); ok {
		g.recent = m.Value
	}
	return g, nil
}

// unseen is the Outstanding of requests the guard admitted that usage did
// not count, because the index did not show them yet.
func (g guard) unseen(u usage) int {
	total := 0
	for id, v := range g.recent {
		if m, ok := v.(*types.AttributeValueMemberM); ok && !u.counted[id] {
			total += int(num(m.Value, "o"))
		}
	}
	return total
}

// next is the conditional write that admits r: the guard with its version
// bumped, r remembered and admissions older than recentWindow forgotten.
func (g guard) next(table string, r *store.Request) *types.Put {
	recent := map[string]types.AttributeValue{}
	horizon := r.CreatedAt.Add(-recentWindow).UnixNano()
	for id, v := range g.recent {
		if m, ok := v.(*types.AttributeValueMemberM); ok && num(m.Value, "t") > horizon {
			recent[id] = v
		}
	}
	recent[r.ID] = &types.AttributeValueMemberM{Value: item{
		"o": attrN(int64(r.Outstanding)),
		"t": attrN(nanos(r.CreatedAt)),
	}}
	return &types.Put{
		TableName: &table,
		Item: item{
			"key":     attrS(g.key),
			"version": attrN(g.version + 1),
			"recent":  &types.AttributeValueMemberM{Value: recent},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#k) OR version = :v"),
		ExpressionAttributeNames: map[string]string{"#k": "key"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": attrN(g.version),
		},
	}
}
