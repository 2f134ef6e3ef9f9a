package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ohfp/ohfp/internal/config"
)

// FactKeeper is what keeps facts: a Store, or anything with its two
// methods.
type FactKeeper interface {
	Fact(ctx context.Context, key string) (value []byte, ok bool, err error)
	PutFact(ctx context.Context, key string, value []byte) error
}

// Facts is the cache of cloud facts (instance types, image root devices,
// SSM image paths) kept in a store between invocations, as the caching
// settings say: off, nothing is read or kept, and every call asks the
// cloud; with a TTL, a fact older than it is a miss. Each fact is kept with
// the time it was cached.
type Facts struct {
	keeper FactKeeper
	off    bool
	ttl    time.Duration
	now    func() time.Time
}

// NewFacts is the cache of cloud facts in k with the settings c.
func NewFacts(k FactKeeper, c config.Caching) Facts {
	return Facts{keeper: k, off: c.Off, ttl: c.FactTTL, now: time.Now}
}

// cachedFact is a fact as Facts keeps it. A fact kept before facts carried
// their time reads with a zero time: fresh without a TTL, stale with one.
type cachedFact struct {
	At   time.Time       `json:"cachedAt"`
	Fact json.RawMessage `json:"fact"`
}

// Fact returns the fact cached under key while it is fresh.
func (f Facts) Fact(ctx context.Context, key string) ([]byte, bool, error) {
	if f.off {
		return nil, false, nil
	}
	raw, ok, err := f.keeper.Fact(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	var c cachedFact
	if json.Unmarshal(raw, &c) != nil || c.At.IsZero() || c.Fact == nil {
		c = cachedFact{Fact: raw}
	}
	if f.ttl > 0 && f.now().Sub(c.At) > f.ttl {
		return nil, false, nil
	}
	return c.Fact, true, nil
}

// PutFact caches value, a JSON document, under key.
func (f Facts) PutFact(ctx context.Context, key string, value []byte) error {
	if f.off {
		return nil
	}
	raw, err := json.Marshal(cachedFact{At: f.now().UTC(), Fact: value})
	if err != nil {
		return err
	}
	return f.keeper.PutFact(ctx, key, raw)
}
