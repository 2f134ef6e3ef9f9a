package aws

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestInstanceTypesFromTheAPI(t *testing.T) {
	e := newTestEnv(t)
	got, err := e.p.InstanceTypes(t.Context(), []string{"t4g.micro", "m5.large", "nope.large", "m5.large"})
	if err != nil {
		t.Fatalf("InstanceTypes: %v", err)
	}
	want := map[string]cloud.TypeFacts{
		"t4g.micro": {Name: "t4g.micro", VCPUs: 2, Cores: 2, MemoryMiB: 1024, Arch: "arm64"},
		"m5.large":  {Name: "m5.large", VCPUs: 2, Cores: 1, MemoryMiB: 8192, Arch: "x86_64"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("InstanceTypes = %v, want %v", got, want)
	}
	e.wantCalls(t, "ec2:DescribeInstanceTypes", 2, "the first is refused for nope.large")

	raw, ok, err := e.store.Fact(t.Context(), "itype:m5.large")
	var cached cloud.TypeFacts
	if err != nil || !ok || json.Unmarshal(raw, &cached) != nil || cached != want["m5.large"] {
		t.Errorf("cached fact %s (%v, %v), want %+v", raw, ok, err, want["m5.large"])
	}
	e.sb.ResetCalls()
	again, err := e.p.InstanceTypes(t.Context(), []string{"m5.large", "t4g.micro"})
	if err != nil || !maps.Equal(again, want) {
		t.Errorf("cached InstanceTypes = %v, %v", again, err)
	}
	e.wantCalls(t, "ec2:DescribeInstanceTypes", 0, "cached types")
}

func TestInstanceTypesWhenDenied(t *testing.T) {
	e := newTestEnv(t)
	e.fault(t, sandbox.Fault{Action: "ec2:DescribeInstanceTypes", Code: "UnauthorizedOperation"})

	got, err := e.p.InstanceTypes(t.Context(), []string{"c7g.xlarge", "x9.unknown"})
	if err != nil {
		t.Fatalf("InstanceTypes: %v", err)
	}
	want := map[string]cloud.TypeFacts{
		"c7g.xlarge": {Name: "c7g.xlarge", VCPUs: 4, Cores: 4, MemoryMiB: 8192, Arch: "arm64"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("InstanceTypes = %v, want the built-in %v", got, want)
	}
	if _, ok, _ := e.store.Fact(t.Context(), "itype:c7g.xlarge"); ok {
		t.Error("a built-in fact was cached as if AWS had said it")
	}
}
