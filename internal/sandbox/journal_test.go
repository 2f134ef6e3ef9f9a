package sandbox_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ohfp/ohfp/internal/sandbox"
)

func TestJournalKeepsCallsAndParameters(t *testing.T) {
	e := start(t, sandbox.Options{})
	ctx := context.Background()
	e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-unrecorded"}})
	e.sb.RecordCalls(true)
	e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-1", "i-2"}})
	e.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/a/b")})
	got := e.sb.Journal()
	if len(got) != 2 || got[0].Action != "ec2:DescribeInstances" || got[0].Params["InstanceId.2"] != "i-2" ||
		got[1].Action != "ssm:GetParameter" || got[1].Params["Name"] != "/a/b" {
		t.Fatalf("journal %+v", got)
	}
	if again := e.sb.Journal(); len(again) != 0 {
		t.Errorf("Journal did not empty: %+v", again)
	}
	e.sb.RecordCalls(false)
	e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if got := e.sb.Journal(); len(got) != 0 {
		t.Errorf("recorded while off: %+v", got)
	}
}
