package transfer_test

import (
	"path/filepath"
	"testing"

	"github.com/ohfp/ohfp/internal/store"
	"github.com/ohfp/ohfp/internal/store/dynamo/dynamotest"
	"github.com/ohfp/ohfp/internal/store/sqlite"
	"github.com/ohfp/ohfp/internal/store/transfer"
	"github.com/ohfp/ohfp/internal/store/transfer/transfertest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ohfp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCopy moves 1,000 requests from SQLite to DynamoDB and back to SQLite,
// and finds them identical at each step.
func TestCopy(t *testing.T) {
	src := openSQLite(t)
	transfertest.Fill(t, src, 1000)
	_, machines := transfertest.Snapshot(t, src)
	// The facts: the one Fill caches, and the store's identity, which a
	// copy carries so that the destination is the same store.
	want := transfer.Counts{Requests: 1000, Machines: len(machines), Events: transfertest.Events, Facts: 2}

	dyn := dynamotest.Open(t, "copy")
	back := openSQLite(t)
	for _, leg := range []struct {
		name     string
		from, to store.Store
	}{
		{"SQLite -> DynamoDB", src, dyn},
		{"DynamoDB -> SQLite", dyn, back},
	} {
		counts, err := transfer.Copy(t.Context(), leg.from, leg.to)
		if err != nil {
			t.Fatalf("copy %s: %v", leg.name, err)
		}
		if counts != want {
			t.Errorf("%s counts = %+v, want %+v", leg.name, counts, want)
		}
		transfertest.Same(t, leg.to, src)
	}
	// Copying again replaces what is there and adds no event twice.
	if counts, err := transfer.Copy(t.Context(), dyn, back); err != nil || counts != want {
		t.Fatalf("second copy = %+v, %v; want %+v", counts, err, want)
	}
	transfertest.Same(t, back, src)
}
