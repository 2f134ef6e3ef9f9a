package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ohfp/ohfp/internal/fault"
)

// ttlAttribute holds the epoch second after which DynamoDB may delete an item.
const ttlAttribute = "expires_at"

// tableSpec is one table as Init creates it; doc.go explains the design.
type tableSpec struct {
	name    string
	key     string
	sort    string // the sort key, if any
	indexes []indexSpec
	ttl     bool
}

type indexSpec struct {
	name, hash, sort string
	keysOnly         bool
}

func (s *Store) tableSpecs() []tableSpec {
	return []tableSpec{
		{name: s.requests, key: "id", ttl: true, indexes: []indexSpec{
			{name: idxState, hash: "state", sort: "created_key"},
			{name: idxTemplate, hash: "template_id", sort: "created_key"},
		}},
		{name: s.machines, key: "instance_id", ttl: true, indexes: []indexSpec{
			{name: idxRequest, hash: "request_id", sort: "launch_key"},
			{name: idxReturn, hash: "return_id", sort: "launch_key"},
			{name: idxTemplate, hash: "template_id", sort: "launch_key"},
			{name: idxName, hash: "name", sort: "instance_id"},
			{name: idxAlive, hash: "alive", sort: "alive_key", keysOnly: true},
		}},
		{name: s.facts, key: "key", ttl: true}, // windows expire (window.go)
		{name: s.events, key: "day", sort: "sk", ttl: true, indexes: []indexSpec{
			{name: idxRequest, hash: "request_id", sort: "sk"},
		}},
	}
}

// Init makes the tables of o ready: with create it creates what is missing
// (tables, indexes, TTL; PAY_PER_REQUEST) and reports what it did; without,
// for sites that forbid CreateTable, it only reports what is missing and
// fails if anything is.
func Init(ctx context.Context, o Options, create bool) (report []string, err error) {
	s, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	missing := 0
	for _, t := range s.tableSpecs() {
		lines, n, err := s.initTable(ctx, t, create)
		report = append(report, lines...)
		missing += n
		if err != nil {
			return report, err
		}
	}
	if missing > 0 {
		return report, fault.New(fault.Configuration, "dynamodb: %d table parts missing; run `ohfp store init` where CreateTable is allowed", missing)
	}
	return report, nil
}

// initTable checks one table and, with create, adds what it lacks. It
// returns report lines and how many parts are still missing.
func (s *Store) initTable(ctx context.Context, t tableSpec, create bool) ([]string, int, error) {
	desc, err := s.describe(ctx, t.name)
	if err != nil {
		return nil, 0, err
	}
	if desc == nil {
		if !create {
			return []string{fmt.Sprintf("missing table %s", t.name)}, 1, nil
		}
		if err := s.createTable(ctx, t); err != nil {
			return nil, 0, err
		}
		lines := []string{fmt.Sprintf("created table %s with %d indexes", t.name, len(t.indexes))}
		if t.ttl {
			if err := s.enableTTL(ctx, t.name); err != nil {
				return lines, 0, err
			}
			lines = append(lines, fmt.Sprintf("enabled TTL on %s.%s", t.name, ttlAttribute))
		}
		return lines, 0, nil
	}

	var lines []string
	missing := 0
	have := map[string]bool{}
	for _, g := range desc.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, ix := range t.indexes {
		switch {
		case have[ix.name]:
		case !create:
			lines = append(lines, fmt.Sprintf("missing index %s on table %s", ix.name, t.name))
			missing++
		default:
			if err := s.addIndex(ctx, t, ix); err != nil {
				return lines, missing, err
			}
			lines = append(lines, fmt.Sprintf("created index %s on table %s", ix.name, t.name))
		}
	}
	if t.ttl {
		ttl, err := s.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &t.name})
		if err != nil {
			return lines, missing, failure(err, "describe TTL of %s", t.name)
		}
		d := ttl.TimeToLiveDescription
		enabled := d != nil && aws.ToString(d.AttributeName) == ttlAttribute &&
			(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling)
		switch {
		case enabled:
		case !create:
			lines = append(lines, fmt.Sprintf("TTL on %s.%s not enabled", t.name, ttlAttribute))
			missing++
		default:
			if err := s.enableTTL(ctx, t.name); err != nil {
				return lines, missing, err
			}
			lines = append(lines, fmt.Sprintf("enabled TTL on %s.%s", t.name, ttlAttribute))
		}
	}
	if len(lines) == 0 {
		lines = append(lines, fmt.Sprintf("table %s is ready", t.name))
	}
	return lines, missing, nil
}

// describe returns the table's description, or nil when it does not exist.
func (s *Store) describe(ctx context.Context, table string) (*types.TableDescription, error) {
	res, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, failure(err, "describe table %s", table)
	}
	return res.Table, nil
}

func (s *Store) createTable(ctx context.Context, t tableSpec) error {
	attrs := map[string]bool{t.key: true}
	in := &dynamodb.CreateTableInput{
		TableName:   &t.name,
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: &t.key, KeyType: types.KeyTypeHash}},
	}
	if t.sort != "" {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: &t.sort, KeyType: types.KeyTypeRange})
		attrs[t.sort] = true
	}
	for _, ix := range t.indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ix.create())
		attrs[ix.hash], attrs[ix.sort] = true, true
	}
	for a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, stringAttr(a))
	}
	if _, err := s.db.CreateTable(ctx, in); err != nil {
		return failure(err, "create table %s", t.name)
	}
	return s.waitActive(ctx, t.name)
}

func (s *Store) addIndex(ctx context.Context, t tableSpec, ix indexSpec) error {
	_, err := s.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            &t.name,
		AttributeDefinitions: []types.AttributeDefinition{stringAttr(ix.hash), stringAttr(ix.sort)},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{
			Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: aws.String(ix.name), KeySchema: ix.keySchema(), Projection: ix.projection(),
			},
		}},
	})
	if err != nil {
		return failure(err, "create index %s on %s", ix.name, t.name)
	}
	return s.waitActive(ctx, t.name)
}

func (s *Store) enableTTL(ctx context.Context, table string) error {
	_, err := s.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(ttlAttribute), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return failure(err, "enable TTL on %s", table)
	}
	return nil
}

// waitActive polls until the table and its indexes are ACTIVE; DynamoDB
// builds an index on a big table for minutes, so ctx bounds the wait.
func (s *Store) waitActive(ctx context.Context, table string) error {
	for attempt := 0; ; attempt++ {
		desc, err := s.describe(ctx, table)
		if err != nil {
			return err
		}
		if desc != nil && active(desc) {
			return nil
		}
		t := time.NewTimer(min(100*time.Millisecond<<attempt, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for table %s: %w", table, ctx.Err())
		case <-t.C:
		}
	}
}

func active(d *types.TableDescription) bool {
	if d.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range d.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

func (ix indexSpec) create() types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{IndexName: aws.String(ix.name), KeySchema: ix.keySchema(), Projection: ix.projection()}
}

func (ix indexSpec) keySchema() []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(ix.hash), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(ix.sort), KeyType: types.KeyTypeRange},
	}
}

func (ix indexSpec) projection() *types.Projection {
	if ix.keysOnly {
		return &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	}
	return &types.Projection{ProjectionType: types.ProjectionTypeAll}
}

func stringAttr(name string) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
}
