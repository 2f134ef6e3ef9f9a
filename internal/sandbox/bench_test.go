package sandbox_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/sandbox"
)

// BenchmarkDescribeInstances1000 is the status poll of HostFactory: one
// request's 1,000 instances, among 10,000, described through the SDK.
func BenchmarkDescribeInstances1000(b *testing.B) {
	e := tenThousand(b)
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{tagFilter("ohfp:request-id", "req-bench")}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.ec2.DescribeInstances(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(out.Reservations[0].Instances); n != 1000 {
			b.Fatalf("%d instances", n)
		}
	}
}

// BenchmarkDescribeInstancesHandler is the sandbox's own share of the poll
// above: the same call straight into ServeHTTP, without the SDK.
func BenchmarkDescribeInstancesHandler(b *testing.B) {
	e := tenThousand(b)
	form := url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"},
		"Filter.1.Name": {"tag:ohfp:request-id"}, "Filter.1.Value.1": {"req-bench"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.sb.ServeHTTP(w, req)
		if w.Code != 200 || w.Body.Len() < 1000*1000 {
			b.Fatalf("%d, %d bytes", w.Code, w.Body.Len())
		}
	}
}

// tenThousand is a sandbox with ten requests of 1,000 instances, the first
// tagged req-bench, each with ohfp's three tags.
func tenThousand(b *testing.B) *env {
	e := start(b, sandbox.Options{})
	for i := range 10 {
		tag := "other"
		if i == 0 {
			tag = "req-bench"
		}
		run(b, e, &ec2.RunInstancesInput{MinCount: aws.Int32(1000), TagSpecifications: tagSpec("ohfp:request-id", tag, "ohfp:template-id", "tmpl", "ohfp:provider", "aws")})
	}
	return e
}

// BenchmarkCreateInstantFleet1000 is a request of 1,000 machines through
// an instant EC2 Fleet over two types.
func BenchmarkCreateInstantFleet1000(b *testing.B) {
	e := start(b, sandbox.Options{})
	ctx := context.Background()
	lt := must(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("bench"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(sandbox.DefaultImageID)}})).LaunchTemplate.LaunchTemplateId
	in := &ec2.CreateFleetInput{
		Type: types.FleetTypeInstant,
		LaunchTemplateConfigs: []types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: lt, Version: aws.String("$Latest")},
			Overrides:                   []types.FleetLaunchTemplateOverridesRequest{{InstanceType: types.InstanceTypeM5Large}, {InstanceType: types.InstanceTypeC5Large}},
		}},
		TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(1000), DefaultTargetCapacityType: types.DefaultTargetCapacityTypeOnDemand},
	}
	b.ReportAllocs()
	for b.Loop() {
		in.ClientToken = nil // the SDK fills in a new one, or the fleet is answered again
		out, err := e.ec2.CreateFleet(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(out.Instances[0].InstanceIds); n != 1000 {
			b.Fatalf("%d instances", n)
		}
		b.StopTimer()
		if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: out.Instances[0].InstanceIds}); err != nil {
			b.Fatal(err)
		}
		e.sb.Advance(2 * time.Hour) // purged at the next launch: the subnet never fills
		b.StartTimer()
	}
}

// BenchmarkFleetStatus1000 is the status poll of a maintain fleet of 1,000
// among 10,000 instances: its active instances, then their descriptions.
func BenchmarkFleetStatus1000(b *testing.B) {
	e := tenThousand(b)
	ctx := context.Background()
	lt := must(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("bench"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(sandbox.DefaultImageID), InstanceType: types.InstanceTypeM5Large}})).LaunchTemplate.LaunchTemplateId
	id := must(e.ec2.CreateFleet(ctx, &ec2.CreateFleetInput{
		Type:                        types.FleetTypeMaintain,
		LaunchTemplateConfigs:       []types.FleetLaunchTemplateConfigRequest{{LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: lt}}},
		TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(1000), DefaultTargetCapacityType: types.DefaultTargetCapacityTypeOnDemand},
	})).FleetId
	b.ReportAllocs()
	for b.Loop() {
		fi, err := e.ec2.DescribeFleetInstances(ctx, &ec2.DescribeFleetInstancesInput{FleetId: id})
		if err != nil {
			b.Fatal(err)
		}
		out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{tagFilter("aws:ec2:fleet-id", aws.ToString(id))}})
		if err != nil {
			b.Fatal(err)
		}
		if len(fi.ActiveInstances) != 1000 || len(out.Reservations[0].Instances) != 1000 {
			b.Fatalf("%d active, %d described", len(fi.ActiveInstances), len(out.Reservations[0].Instances))
		}
	}
}
