package aws

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
)

var (
	tagSpecType = regexp.MustCompile(`^(.*TagSpecification\.\d+\.)ResourceType$`)
	groupTagKey = regexp.MustCompile(`^(Tags\.member\.\d+\.)Key$`)
)

// installationTagged lists the resource types a recorded call's form tags
// with installation id, and those it creates tagged without it.
func installationTagged(form url.Values, id string) (tagged, untagged []string) {
	for key := range form {
		if m := tagSpecType.FindStringSubmatch(key); m != nil {
			rt := form.Get(key)
			found := false
			for k := range form {
				if strings.HasPrefix(k, m[1]+"Tag.") && strings.HasSuffix(k, ".Key") && form.Get(k) == cloud.TagInstallation {
					found = form.Get(strings.TrimSuffix(k, "Key")+"Value") == id
				}
			}
			if found {
				tagged = append(tagged, rt)
			} else {
				untagged = append(untagged, rt)
			}
		}
		if m := groupTagKey.FindStringSubmatch(key); m != nil && form.Get(key) == cloud.TagInstallation && form.Get(m[1]+"Value") == id {
			tagged = append(tagged, form.Get(m[1]+"ResourceType"))
		}
	}
	return tagged, untagged
}

// Every resource a launch creates carries the installation id, whatever
// the API: instances and volumes, EC2 fleets, spot fleet requests, Auto
// Scaling groups and the launch templates made for them. Reconcile, returns
// and reclaims tell this installation's resources by it.
func TestEveryResourceCarriesTheInstallationID(t *testing.T) {
	cases := []struct {
		api, fleetType string
		want           map[string][]string // by action: resource types tagged
	}{
		{config.APIRunInstances, "", map[string][]string{"RunInstances": {"instance", "volume"}}},
		{config.APIEC2Fleet, config.FleetInstant, map[string][]string{"CreateFleet": {"fleet", "instance"}, "CreateLaunchTemplate": {"launch-template"}}},
		{config.APIEC2Fleet, config.FleetMaintain, map[string][]string{"CreateFleet": {"fleet"}, "CreateLaunchTemplate": {"launch-template"}}},
		{config.APISpotFleet, config.FleetRequest, map[string][]string{"RequestSpotFleet": {"spot-fleet-request"}, "CreateLaunchTemplate": {"launch-template"}}},
		{config.APIASG, "", map[string][]string{"CreateAutoScalingGroup": {"auto-scaling-group"}, "CreateLaunchTemplate": {"launch-template"}}},
	}
	for _, c := range cases {
		t.Run(c.api+" "+c.fleetType, func(t *testing.T) {
			e := newTestEnv(t)
			spec := apiSpec("req-own", 2, c.api, c.fleetType)
			e.mustLaunch(t, spec)
			for action, want := range c.want {
				forms := e.rec.formsOf(action)
				if len(forms) == 0 {
					t.Fatalf("no %s call", action)
				}
				for _, f := range forms {
					tagged, untagged := installationTagged(f, spec.InstallationID)
					for _, rt := range want {
						if !slices.Contains(tagged, rt) {
							t.Errorf("%s tags its %s without %s: tagged %v", action, rt, cloud.TagInstallation, tagged)
						}
					}
					if len(untagged) > 0 {
						t.Errorf("%s creates %v without %s", action, untagged, cloud.TagInstallation)
					}
				}
			}
		})
	}
}
