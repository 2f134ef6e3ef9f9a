package app

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// TestSQLitePathPerProvider: provider instances sharing a work folder get
// a store each. The default file goes to the first instance that uses it,
// as does a file from before claims (the upgrade); the others get
// ohfp-<name>.db; a file the configuration names that another instance
// holds is refused.
func TestSQLitePathPerProvider(t *testing.T) {
	work := t.TempDir()
	legacy := filepath.Join(work, "ohfp.db")
	if err := os.WriteFile(legacy, []byte("a store from before claims"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		defaulted  bool
		want       string // "" = refused
	}{
		{"aws-us-east-1", legacy, true, legacy},
		{"aws-us-west-2", legacy, true, filepath.Join(work, "ohfp-aws-us-west-2.db")},
		{"aws-us-east-1", legacy, true, legacy},
		{"aws-us-west-2", legacy, true, filepath.Join(work, "ohfp-aws-us-west-2.db")},
		{"aws-us-west-2", legacy, false, ""},
		{"aws-us-east-1", legacy, false, legacy},
	}
	for i, c := range cases {
		cfg := &config.Config{ProviderName: c.name, Storage: config.Storage{Path: c.path, Defaulted: c.defaulted}}
		got, err := SQLitePath(cfg)
		if c.want == "" {
			if fault.CodeOf(err) != fault.Configuration {
				t.Errorf("%d %s: %q, %v; want CONFIGURATION_ERROR", i, c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.want || cfg.Storage.Path != c.want {
			t.Errorf("%d %s: %q (config %q), %v; want %q", i, c.name, got, cfg.Storage.Path, err, c.want)
		}
	}
}

// TestClaimRace: of instances claiming one store at once, one wins and all
// agree on it.
func TestClaimRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ohfp.db")
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	owners := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			owner, err := claim(path, n)
			if err != nil {
				t.Error(err)
			}
			owners[i] = owner
		})
	}
	wg.Wait()
	for _, o := range owners {
		if o != owners[0] || o == "" {
			t.Fatalf("owners %v", owners)
		}
	}
}
