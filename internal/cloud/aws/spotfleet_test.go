package aws

import (
	"strings"
	"testing"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestSpotFleetMaintainReturnsWithoutReplacement(t *testing.T) {
	e := newTestEnv(t)
	spec := apiSpec("req-sf", 10, config.APISpotFleet, config.FleetMaintain)
	spec.Template.PriceType = config.PriceHeterogeneous
	spec.Template.PercentOnDemand = 30
	spec.Template.SpotFleetRequestExpiry = 60
	spec.Template.PoolsCount = 2

	pl := e.mustLaunch(t, spec)

	if !pl.Ongoing || !strings.HasPrefix(pl.Ref, "sfr-") || !strings.Contains(pl.Ref, "/lt-") {
		t.Fatalf("placement %+v, want an ongoing spot fleet with its launch template", pl)
	}
	e.settle()
	if f := e.fulfilment(t, pl.Ref); f.Done || len(f.Errors) > 0 {
		t.Errorf("fulfilled fleet reported %+v", f)
	}
	alive := e.alive("req-sf")
	spot := 0
	for _, in := range alive {
		if in.Spot {
			spot++
		}
	}
	if len(alive) != 10 || spot != 7 {
		t.Errorf("%d instances, %d spot; want 10 with 7 spot", len(alive), spot)
	}
	wantTagged(t, alive, "req-sf")
	f := e.rec.formsOf("RequestSpotFleet")[0]
	wantForm(t, f, map[string]string{
		"SpotFleetRequestConfig.IamFleetRole":            spec.Template.FleetRole,
		"SpotFleetRequestConfig.Type":                    "maintain",
		"SpotFleetRequestConfig.TargetCapacity":          "10",
		"SpotFleetRequestConfig.OnDemandTargetCapacity":  "3",
		"SpotFleetRequestConfig.InstancePoolsToUseCount": "2",
		"SpotFleetRequestConfig.ClientToken":             "tok-req-sf",
	})
	if f.Get("SpotFleetRequestConfig.ValidUntil") == "" {
		t.Error("no ValidUntil from spotFleetRequestExpiry")
	}
	id := parseRef(pl.Ref).id

	e.cycle(t, pl, "req-sf", 10, 4)

	if f := e.fleet(t, id); !strings.HasPrefix(f.State, "cancelled") {
		t.Errorf("spot fleet %s is %s after Retire", id, f.State)
	}
}

func TestSpotFleetRequestShortIsDone(t *testing.T) {
	e := newTestEnv(t)
	if err := e.sb.SetCapacity("t3.micro", "", 6); err != nil {
		t.Fatal(err)
	}
	spec := apiSpec("req-sfr", 10, config.APISpotFleet, config.FleetRequest)
	spec.Template.PriceType = config.PriceSpot
	pl := e.mustLaunch(t, spec)
	e.settle()

	f := e.fulfilment(t, pl.Ref)

	if !f.Done || len(f.Errors) == 0 || !strings.HasPrefix(f.Errors[0], "InsufficientInstanceCapacity: ") {
		t.Errorf("fulfilment %+v, want done with the capacity errors of its history", f)
	}
	key := noCapacityKey(slot{"t3.micro", sandbox.DefaultSubnetIDs[0]}, config.PriceSpot)
	if _, ok, err := e.store.Fact(t.Context(), key); !ok || err != nil {
		t.Errorf("no %s remembered from the fleet's history (%v)", key, err)
	}
	if n := len(e.alive("req-sfr")); n != 6 {
		t.Errorf("%d instances, want the 6 there was room for", n)
	}
}
