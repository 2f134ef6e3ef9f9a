package iampolicy

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

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
// policy would grant it on "*" (Unscoped).
func TestEveryCallHasAStatement(t *testing.T) {
	u := usage{region: "us-east-1", features: map[Feature]bool{FeatureSpot: true}, anyImage: true, anySubnet: true, anyGroup: true, templates: true,
		tablePrefix: "t", tableRegion: "us-east-1", ssmPaths: map[string]bool{"/p": true}}
	for _, c := range calls {
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
