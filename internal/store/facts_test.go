package store

import (
	"context"
	"testing"
	"time"

	"github.com/ohfp/ohfp/internal/config"
)

type mapKeeper map[string][]byte

func (m mapKeeper) Fact(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := m[key]
	return v, ok, nil
}

func (m mapKeeper) PutFact(_ context.Context, key string, value []byte) error {
	m[key] = value
	return nil
}

// TestFactsFollowTheCachingSettings: a fact is trusted for the TTL, for
// good without one, never with caching off; one kept before facts carried
// their time is fresh only without a TTL.
func TestFactsFollowTheCachingSettings(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		caching config.Caching
		age     time.Duration
		want    bool
	}{
		{"default", config.Caching{}, 1000 * time.Hour, true},
		{"within ttl", config.Caching{FactTTL: 5 * time.Minute}, 4 * time.Minute, true},
		{"past ttl", config.Caching{FactTTL: 5 * time.Minute}, 6 * time.Minute, false},
		{"off", config.Caching{Off: true}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := mapKeeper{}
			f := NewFacts(k, c.caching)
			f.now = func() time.Time { return now }
			if err := f.PutFact(ctx, "itype:m5.large", []byte(`{"vcpus":2}`)); err != nil {
				t.Fatal(err)
			}
			if c.caching.Off && len(k) != 0 {
				t.Errorf("caching off kept %q", k)
			}
			f.now = func() time.Time { return now.Add(c.age) }
			v, ok, err := f.Fact(ctx, "itype:m5.large")
			if err != nil || ok != c.want || ok && string(v) != `{"vcpus":2}` {
				t.Errorf("Fact = %s, %v, %v; want found %v", v, ok, err, c.want)
			}
		})
	}
	old := mapKeeper{"image-root:ami-1": []byte(`"/dev/sda1"`)}
	if v, ok, _ := NewFacts(old, config.Caching{}).Fact(ctx, "image-root:ami-1"); !ok || string(v) != `"/dev/sda1"` {
		t.Errorf("an older fact without a TTL: %s %v", v, ok)
	}
	if _, ok, _ := NewFacts(old, config.Caching{FactTTL: time.Hour}).Fact(ctx, "image-root:ami-1"); ok {
		t.Error("an older fact of unknown age was trusted under a TTL")
	}
}
