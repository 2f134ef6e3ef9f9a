package dynamo_test

import (
	"testing"

	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo/dynamotest"
	"github.com/ohfp/ohfp/internal/store/storetest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		return dynamotest.Open(t, name)
	})
}

// TestConcurrencySecondImplementation runs the suite's concurrency cases
// on an independent implementation of the DynamoDB API (dynamotest.Second):
// the store's own transactions, checked on a second server. The rest of the
// suite runs on DynamoDB Local only; moto copies a table for each
// transaction, and the large sets take minutes there.
func TestConcurrencySecondImplementation(t *testing.T) {
	storetest.RunConcurrency(t, func(t *testing.T, name string) store.Store {
		return dynamotest.OpenSecond(t, name)
	})
}
