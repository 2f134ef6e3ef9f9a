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
