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
	"github.com/aws/smithy-go"

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
// (tables, indexes, TTL, and point-in-time recovery with o.Backup;
// PAY_PER_REQUEST) and reports what it did; without, for sites that forbid
// CreateTable and for doctor, it describes every table, checks its keys,
// indexes, TTL (and recovery), reports what is missing and fails if
// anything is. A table whose keys are not ohfp's fails either way. A
// feature the endpoint does not implement (TTL, recovery) is reported and
// skipped: the purge pass deletes what TTL would.
func Init(ctx context.Context, o Options, create bool) (report []string, err error) {
	s, err := Open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.ensure(ctx, create)
}

// ensure is Init on an open store.
func (s *Store) ensure(ctx context.Context, create bool) (report []string, err error) {
	ctx = context.WithValue(ctx, settingUp{}, true)
	// An endpoint without UpdateTimeToLive still describes TTL, as off:
	// init notes that it cannot be turned on, so the check knows.
	_, s.noTTL, _ = s.Fact(ctx, noTTLFact)
	missing := 0
	for _, t := range s.tableSpecs() {
		lines, n, err := s.initTable(ctx, t, create)
		report = append(report, lines...)
		missing += n
		if err != nil {
			return report, err
		}
	}
	if create && s.noTTL {
		if err := s.PutFact(ctx, noTTLFact, nil); err != nil {
			return report, err
		}
	}
	if missing > 0 {
		return report, fault.Wrap(fault.Configuration, ErrMissing, "dynamodb: %d table parts missing; run `%s` where CreateTable is allowed", missing, s.opts.InitCommand)
	}
	return report, nil
}

// ErrMissing is what Init's check returns when tables, indexes, TTL or
// recovery are missing, as opposed to tables it cannot use.
var ErrMissing = errors.New("table parts missing")

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
			line, err := s.enableTTL(ctx, t.name)
			if err != nil {
				return lines, 0, err
			}
			lines = append(lines, line)
		}
		if s.opts.Backup {
			line, err := s.enableRecovery(ctx, t.name)
			if err != nil {
				return lines, 0, err
			}
			lines = append(lines, line)
		}
		return lines, 0, nil
	}

	if err := checkKeys(t, desc); err != nil {
		return nil, 0, err
	}
	var lines []string
	missing := 0
	have := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range desc.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = g
	}
	for _, ix := range t.indexes {
		g, ok := have[ix.name]
		if ok && !slices.Equal(keyNames(g.KeySchema), []string{ix.hash, ix.sort}) {
			return lines, missing, fault.New(fault.Configuration, "dynamodb: index %s on table %s has keys %v, ohfp needs %v: delete the index and run `%s`",
				ix.name, t.name, keyNames(g.KeySchema), []string{ix.hash, ix.sort}, s.opts.InitCommand)
		}
		switch {
		case ok:
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
		var d *types.TimeToLiveDescription
		switch {
		case unsupported(err):
			lines = append(lines, noTTL(t.name, err))
		case err != nil:
			return lines, missing, failure(err, "describe TTL of %s", t.name)
		default:
			d = ttl.TimeToLiveDescription
		}
		enabled := d != nil && aws.ToString(d.AttributeName) == ttlAttribute &&
			(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling)
		switch {
		case enabled, err != nil:
		case s.noTTL:
			lines = append(lines, noTTL(t.name, errors.New("noted by store init")))
		case !create:
			lines = append(lines, fmt.Sprintf("TTL on %s.%s not enabled", t.name, ttlAttribute))
			missing++
		default:
			line, err := s.enableTTL(ctx, t.name)
			if err != nil {
				return lines, missing, err
			}
			lines = append(lines, line)
		}
	}
	if s.opts.Backup {
		line, n, err := s.checkRecovery(ctx, t.name, create)
		if err != nil {
			return lines, missing, err
		}
		if line != "" {
			lines = append(lines, line)
		}
		missing += n
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
	_, err := s.db.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another process creates it too
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

// enableTTL turns on TTL and says so, or that the endpoint has none.
func (s *Store) enableTTL(ctx context.Context, table string) (string, error) {
	_, err := s.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(ttlAttribute), Enabled: aws.Bool(true),
		},
	})
	switch {
	case unsupported(err):
		s.noTTL = true
		return noTTL(table, err), nil
	case err != nil:
		return "", failure(err, "enable TTL on %s", table)
	}
	return fmt.Sprintf("enabled TTL on %s.%s", table, ttlAttribute), nil
}

func noTTL(table string, err error) string {
	return fmt.Sprintf("TTL on %s: this endpoint does not implement it (%s); the purge pass deletes expired items instead", table, cmp.Or(apiCode(err), err.Error()))
}

// noTTLFact notes that the endpoint cannot turn TTL on.
const noTTLFact = "dynamodb/no-ttl"

// enableRecovery turns on point-in-time recovery and says so, or that the
// endpoint has none.
func (s *Store) enableRecovery(ctx context.Context, table string) (string, error) {
	_, err := s.db.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
		TableName: &table,
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: aws.Bool(true),
		},
	})
	switch {
	case unsupported(err):
		return fmt.Sprintf("point-in-time recovery of %s: this endpoint does not implement it (%s)", table, apiCode(err)), nil
	case err != nil:
		return "", failure(err, "enable point-in-time recovery of %s", table)
	}
	return fmt.Sprintf("enabled point-in-time recovery of %s", table), nil
}

// checkRecovery checks, and with create turns on, point-in-time recovery;
// it returns a report line (none when on) and 1 when it is missing.
func (s *Store) checkRecovery(ctx context.Context, table string, create bool) (string, int, error) {
	res, err := s.db.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: &table})
	switch {
	case unsupported(err):
		return fmt.Sprintf("point-in-time recovery of %s: this endpoint does not implement it (%s)", table, apiCode(err)), 0, nil
	case err != nil:
		return "", 0, failure(err, "describe backups of %s", table)
	}
	if d := res.ContinuousBackupsDescription; d != nil && d.PointInTimeRecoveryDescription != nil &&
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled {
		return "", 0, nil
	}
	if !create {
		return fmt.Sprintf("point-in-time recovery of %s not enabled (storage.dynamodb.backup_enabled)", table), 1, nil
	}
	line, err := s.enableRecovery(ctx, table)
	return line, 0, err
}

// checkKeys fails unless the table's key schema is t's: a table of the
// same name made for something else must not be written to.
func checkKeys(t tableSpec, desc *types.TableDescription) error {
	want := []string{t.key}
	if t.sort != "" {
		want = append(want, t.sort)
	}
	if got := keyNames(desc.KeySchema); !slices.Equal(got, want) {
		return fault.New(fault.Configuration, "dynamodb: table %s has key %v, ohfp needs %v: it is not an ohfp table; choose another storage.dynamodb.table_prefix",
			t.name, got, want)
	}
	return nil
}

// keyNames are a key schema's attributes, hash key first.
func keyNames(schema []types.KeySchemaElement) []string {
	var hash, rng []string
	for _, k := range schema {
		if k.KeyType == types.KeyTypeHash {
			hash = append(hash, aws.ToString(k.AttributeName))
		} else {
			rng = append(rng, aws.ToString(k.AttributeName))
		}
	}
	return append(hash, rng...)
}

// unsupported reports whether err says the endpoint does not implement the
// operation, as DynamoDB-compatible stores without TTL or backups answer.
func unsupported(err error) bool {
	switch apiCode(err) {
	case "UnknownOperationException", "UnsupportedOperationException", "NotImplemented", "InvalidAction":
		return true
	}
	return false
}

// apiCode is the error code of an API error, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
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
