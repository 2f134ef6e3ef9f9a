package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// IdentityFact is the key of the fact that holds a store's Identity.
const IdentityFact = "store:identity"

// Identity says which store this is and since when it exists. Reconcile
// compares the creation time with the launch times of the live instances:
// a store newer than an instance it does not know cannot have lost track
// of it; it is a new store, and the instance is adopted, never terminated.
type Identity struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Installation is the installation the store serves: a record of the
	// id kept with the configuration, to catch a store shared or copied
	// between installations.
	Installation string `json:"installation,omitempty"`
}

// Identify returns the identity of st. A store without one (just made,
// emptied, or written before identities existed) gets one now, so an
// emptied store counts as new. It also records installation as the one
// st serves when st names none yet.
func Identify(ctx context.Context, st Store, installation string, now time.Time) (Identity, error) {
	var id Identity
	raw, ok, err := st.Fact(ctx, IdentityFact)
	if err != nil {
		return id, fmt.Errorf("reading the store's identity: %w", err)
	}
	if ok {
		if err := json.Unmarshal(raw, &id); err != nil || id.ID == "" || id.Created.IsZero() {
			return Identity{}, fmt.Errorf("the store's identity %q does not read: %v", raw, err)
		}
	}
	if ok && (id.Installation != "" || installation == "") {
		return id, nil
	}
	if !ok {
		id = Identity{ID: uuid.NewString(), Created: now.UTC()}
	}
	id.Installation = installation
	raw, err = json.Marshal(id)
	if err != nil {
		return id, err
	}
	if err := st.PutFact(ctx, IdentityFact, raw); err != nil {
		return id, fmt.Errorf("recording the store's identity: %w", err)
	}
	return id, nil
}
