package storetest

import (
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/store"
)

// identity: a store is identified once; the installation it serves is
// recorded the first time one is named, and never replaced.
func (s suite) identity(t *testing.T) {
	ctx := t.Context()
	st, name := s.fresh(t)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	first, err := store.Identify(ctx, st, "", now)
	if err != nil || first.ID == "" || first.Created.IsZero() || first.Installation != "" {
		t.Fatalf("first identity %+v, %v", first, err)
	}
	named, err := store.Identify(ctx, s.open(t, name), "inst-a", now.Add(time.Hour))
	if err != nil || named.ID != first.ID || !named.Created.Equal(first.Created) || named.Installation != "inst-a" {
		t.Fatalf("identity from another process %+v, %v; want %+v for inst-a", named, err, first)
	}
	other, err := store.Identify(ctx, st, "inst-b", now.Add(2*time.Hour))
	if err != nil || other != named {
		t.Fatalf("identity asked by inst-b %+v, %v; want %+v unchanged", other, err, named)
	}
}
