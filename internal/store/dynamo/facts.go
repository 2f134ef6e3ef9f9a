package dynamo

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Fact returns a cached cloud fact; an empty value reads back as nil.
func (s *Store) Fact(ctx context.Context, key string) ([]byte, bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.facts,
		Key:            item{"key": attrS(factPrefix + key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, failure(err, "fact %s", key)
	}
	if res.Item == nil {
		return nil, false, nil
	}
	return bin(res.Item, "value"), true, nil
}

// PutFact caches a fact.
func (s *Store) PutFact(ctx context.Context, key string, value []byte) error {
	it := item{"key": attrS(factPrefix + key)}
	setB(it, "value", value)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.facts, Item: it}); err != nil {
		return failure(err, "put fact %s", key)
	}
	return nil
}

// AllFacts returns every cached fact, for copying a store; it scans.
func (s *Store) AllFacts(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.scan(ctx, &dynamodb.ScanInput{
		TableName:                 &s.facts,
		FilterExpression:          aws.String("begins_with(#k, :p)"),
		ExpressionAttributeNames:  map[string]string{"#k": "key"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": attrS(factPrefix)},
	}, func(it item) {
		out[strings.TrimPrefix(str(it, "key"), factPrefix)] = bin(it, "value")
	})
	if err != nil {
		return nil, failure(err, "all facts")
	}
	return out, nil
}
