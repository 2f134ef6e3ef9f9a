package iampolicy

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/iampolicy/scan"
)

// TestCallsAreCurrent fails when the code calls an AWS action that
// calls_gen.go does not list, or no longer calls one it lists, or serves
// other features with it: the policy would then deny a call or grant one
// too many.
func TestCallsAreCurrent(t *testing.T) {
	found, err := scan.All(filepath.Join("..", ".."), ScanSources())
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string][]string{}
	for _, c := range calls {
		if len(c.features) == 0 && slices.Contains(ImpliedActions, c.action) {
			continue
		}
		for _, f := range c.features {
			listed[c.action] = append(listed[c.action], string(f))
		}
	}
	for _, a := range slices.Sorted(maps.Keys(found)) {
		if !slices.Equal(found[a], listed[a]) {
			t.Errorf("%s: the code serves %v with it, calls_gen.go says %v", a, found[a], listed[a])
		}
	}
	for a := range listed {
		if _, ok := found[a]; !ok {
			t.Errorf("%s: listed in calls_gen.go, called nowhere", a)
		}
	}
	if t.Failed() {
		t.Log("run: tools/iamsim/install.sh && go generate ./internal/iampolicy")
	}
}

// TestEveryCallHasAStatement: each action the code calls has a statement
// rule, and each resource type it requires has an ARN rule; otherwise the
// policy would grant it on "*" (Unscoped). Optional calls are never granted.
func TestEveryCallHasAStatement(t *testing.T) {
	u := usage{region: "us-east-1", features: map[Feature]bool{FeatureSpot: true}, anyImage: true, anySubnet: true, anyGroup: true, templates: true,
		tablePrefix: "t", tableRegion: "us-east-1", ssmPaths: map[string]bool{"/p": true}}
	for _, c := range calls {
		if slices.Equal(c.features, []Feature{FeatureOptional}) {
			continue
		}
		if _, ok := statementOf[requiredKey(c.resources)]; !ok {
			t.Errorf("%s: no statement takes actions requiring %q", c.action, requiredKey(c.resources))
		}
		for _, r := range c.resources {
			if r.required && len(u.scope(r.name)) == 0 {
				t.Errorf("%s: no ARN rule for its required resource type %s", c.action, r.name)
			}
		}
	}
}

// TestEveryCallIsGranted: a configuration that uses every feature is
// granted every action the code calls, but those it only tries.
func TestEveryCallIsGranted(t *testing.T) {
	cfg := &config.Config{ProviderName: "p", AWS: config.AWS{Region: "us-east-1"}}
	cfg.Storage.Type = config.StorageDynamoDB
	cfg.Storage.DynamoDB.TablePrefix, cfg.Storage.DynamoDB.Region = "t", "us-east-1"
	for _, api := range []string{config.APIRunInstances, config.APIEC2Fleet, config.APISpotFleet, config.APIASG} {
		cfg.Templates = append(cfg.Templates, config.Template{ID: api, ProviderAPI: api, ImageID: "/ssm/path", PriceType: config.PriceSpot})
	}
	granted := map[string]bool{}
	for _, s := range For(cfg).Statement {
		if s.Sid == unplaced {
			t.Errorf("unscoped actions: %v", s.Action)
		}
		for _, a := range s.Action {
			granted[a] = true
		}
	}
	for _, c := range calls {
		if !granted[c.action] && !slices.Contains(c.features, FeatureOptional) {
			t.Errorf("%s (features %v) is not granted", c.action, c.features)
		}
	}
}
