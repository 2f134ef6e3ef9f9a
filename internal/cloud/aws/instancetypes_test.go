package aws

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

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

func TestInstanceTypesNeverPublishAZeroFact(t *testing.T) {
	fe := &fakeEC2{describeTypes: func(in *ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error) {
		out := &ec2.DescribeInstanceTypesOutput{}
		for _, it := range in.InstanceTypes {
			// vCPUs and memory left out, as some endpoints answer.
			out.InstanceTypes = append(out.InstanceTypes, types.InstanceTypeInfo{InstanceType: it})
		}
		return out, nil
	}}
	p := fakeProvider(t, fe, nil)
	zero, _ := json.Marshal(cloud.TypeFacts{Name: "c5.large"})
	if err := p.cache.PutFact(t.Context(), typeFactKey("c5.large"), zero); err != nil {
		t.Fatal(err)
	}

	got, err := p.InstanceTypes(t.Context(), []string{"m5.large", "c5.large", "x9.zero"})

	if err != nil {
		t.Fatalf("InstanceTypes: %v", err)
	}
	want := map[string]cloud.TypeFacts{"m5.large": builtinTypes["m5.large"], "c5.large": builtinTypes["c5.large"]}
	if !maps.Equal(got, want) {
		t.Errorf("InstanceTypes = %v, want the built-in facts %v and nothing for x9.zero", got, want)
	}
	if raw, ok, _ := p.cache.Fact(t.Context(), typeFactKey("m5.large")); ok {
		t.Errorf("a zero fact was cached: %s", raw)
	}
}
