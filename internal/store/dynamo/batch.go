package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's limits per call.
const (
	maxBatchGet   = 100
	maxBatchWrite = 25
	maxTransact   = 100
)

// maxAttempts bounds the retries of unprocessed batch items and
// transaction conflicts.
const maxAttempts = 10

// writeAttempts bounds the retries of a write whose items or counters moved
// under it (another host wrote them first, or a counter was being seeded);
// each loser retries after the winner.
const writeAttempts = 25

// backoff sleeps before retry attempt (0-based) with full jitter, capped.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(10*time.Millisecond<<attempt, time.Second)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// batchGet reads the items with keys from table, strongly consistent, in
// calls of 100 keys, retrying the keys DynamoDB leaves unprocessed. Order is
// not kept; missing keys are absent.
func (s *Store) batchGet(ctx context.Context, table string, keys []item) ([]item, error) {
	var out []item
	for chunk := range slices.Chunk(keys, maxBatchGet) {
		pending := map[string]types.KeysAndAttributes{table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt == maxAttempts {
					return nil, fmt.Errorf("batch get %s: keys still unprocessed after %d attempts", table, maxAttempts)
				}
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, err
			}
			out = append(out, res.Responses[table]...)
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// batchWrite applies writes to table in calls of 25, retrying the items
// DynamoDB leaves unprocessed. Each call is atomic per item only.
func (s *Store) batchWrite(ctx context.Context, table string, writes []types.WriteRequest) error {
	for chunk := range slices.Chunk(writes, maxBatchWrite) {
		pending := map[string][]types.WriteRequest{table: chunk}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt == maxAttempts {
					return fmt.Errorf("batch write %s: items still unprocessed after %d attempts", table, maxAttempts)
				}
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
			}
			res, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			pending = res.UnprocessedItems
		}
	}
	return nil
}

// transact runs one TransactWriteItems. When conditions fail it returns the
// cancellation reasons (one per item, in order) and a nil error; conflicts
// with other transactions in flight are retried.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) ([]types.CancellationReason, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tc *types.TransactionCanceledException
		if err == nil || !errors.As(err, &tc) {
			return nil, err
		}
		if !transient(tc.CancellationReasons) {
			return tc.CancellationReasons, nil
		}
		if attempt+1 == maxAttempts {
			return nil, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// transient reports whether a transaction was cancelled only by contention
// (another transaction on the same items, throttling), not by a condition.
func transient(reasons []types.CancellationReason) bool {
	found := false
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
			found = true
		default:
			return false
		}
	}
	return found
}

// conditionFailed reports whether reason says the item's condition failed.
func conditionFailed(reasons []types.CancellationReason, i int) bool {
	return i < len(reasons) && aws.ToString(reasons[i].Code) == "ConditionalCheckFailed"
}

// reasonCodes lists the codes of a cancelled transaction, for errors.
func reasonCodes(reasons []types.CancellationReason) string {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = aws.ToString(r.Code)
	}
	return strings.Join(codes, ", ")
}

// query runs in through all its pages, handing each item to each until it
// returns false.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, each func(item) bool) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if !each(it) {
				return nil
			}
		}
	}
	return nil
}

// scan reads a whole table, page by page; only cold paths use it.
func (s *Store) scan(ctx context.Context, in *dynamodb.ScanInput, each func(item)) error {
	p := dynamodb.NewScanPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			each(it)
		}
	}
	return nil
}
