package sqlite

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// released pins each released migration: a file migrated by an older
// binary never runs it again, so a change of the rules a migration spells
// out (store.Machine.Alive, store.State.Finished) needs a new migration,
// not an edit of an old one.
// (Migration 1 is pinned as generated from the rules' values; the
// released text listed the same states in another order.)
var released = []string{
	"e670852784ddf570b054a7b608419419f05f161e0810bb44869b1dfa37ae1cf9",
	"e3dfc0fef27c73dabc91f147bd5470f0d8a1271f9a91dd80f1e9358d1c5838fd",
}

func TestMigrationsNeverChange(t *testing.T) {
	if len(migrations) < len(released) {
		t.Fatalf("%d migrations, but %d were released", len(migrations), len(released))
	}
	for i, want := range released {
		if got := fmt.Sprintf("%x", sha256.Sum256([]byte(migrations[i]))); got != want {
			t.Errorf("migration %d changed: sha256 %s, released %s", i+1, got, want)
		}
	}
}
