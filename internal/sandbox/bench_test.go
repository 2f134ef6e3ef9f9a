package sandbox_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
